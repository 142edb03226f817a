kind = "service-router"
name = "counting"
routes = [
  {
    match {
      http {
        path_prefix = "/admin"
      }
    }
    destination {
      service        = "counting-admin"
      prefix_rewrite = "/"
    }
  },
]
