-- GET a page of 100 exports.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.path = "/v1/exports?limit=100"
