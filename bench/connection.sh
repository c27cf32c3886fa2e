# Sourced by run.sh and ab.sh.  bench_connection URL TOKEN prints the _id of
# a new http connection of the token's account, for the exports post.lua and
# put.lua write (their _connectionId must name a real connection).  A release
# without connections accepts any well-formed id: that one is printed then.
bench_connection() {
  local out
  out=$(curl -sf -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -d '{"name":"bench","type":"http","http":{"baseURI":"https://api.example.com","mediaType":"json"}}' \
    "$1/v1/connections") || { echo 5587092ed78128000000000a; return; }
  echo "$out" | sed 's/.*"_id":"\([0-9a-f]\{24\}\)".*/\1/'
}
