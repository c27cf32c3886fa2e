-- Durable POST of a small HTTP export.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"name":"bench","adaptorType":"HTTPExport",' ..
  '"_connectionId":"' .. os.getenv("CONN") .. '",' ..
  '"http":{"method":"GET","relativeURI":"/items"}}'
