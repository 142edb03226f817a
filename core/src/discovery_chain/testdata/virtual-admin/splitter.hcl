kind = "service-splitter"
name = "global-admin"
splits = [
  {
    weight  = 50
    service = "admin-dc1"
  },
  {
    weight  = 50
    service = "admin-dc2"
  },
]
