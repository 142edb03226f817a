# Both services of the chain speak HTTP: routers and splitters need an L7 protocol.
Kind     = "service-defaults"
Name     = "counting"
Protocol = "http"
