kind = "service-resolver"
name = "counting-admin"
subsets = {
  v1 = {
    filter = "Service.Meta.version == v1"
  }
  v2 = {
    filter = "Service.Meta.version == v2"
  }
}
failover = {
  "*" = {
    datacenters = ["dc-aws", "dc-gcp"]
  }
}
