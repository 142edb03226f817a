# Only web may call db; everyone else is denied.
Kind = "service-intentions"
Name = "db"
Sources = [
  {
    Name   = "web"
    Action = "allow"
  },
  {
    Name   = "*"
    Action = "deny"
  },
]
