kind = "service-resolver"
name = "admin-dc2"
redirect {
  service    = "admin"
  datacenter = "dc2"
}
