kind = "service-router"
name = "virtual-admin"
routes = [
  {
    match {
      http {
        path_prefix = "/login"
      }
    }
    destination {
      service = "login"
    }
  },
  {
    match {
      http {
        path_prefix = "/"
      }
    }
    destination {
      service = "global-admin"
    }
  },
]
