kind = "service-splitter"
name = "counting-admin"
splits = [
  {
    weight         = 80
    service_subset = "v1"
  },
  {
    weight         = 20
    service_subset = "v2"
  },
]
