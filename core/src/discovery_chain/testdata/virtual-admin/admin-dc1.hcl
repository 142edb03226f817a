kind = "service-resolver"
name = "admin-dc1"
redirect {
  service    = "admin"
  datacenter = "dc1"
}
