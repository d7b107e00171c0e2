{
  "targets": [
    {
      "target_name": "warren_dial",
      "sources": ["dial.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
