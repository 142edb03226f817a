kind     = "service-defaults"
name     = "counting-admin"
protocol = "http"
