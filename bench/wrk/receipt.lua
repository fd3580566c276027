-- receipt.lua - wrk script for bench/http.sh: POST one receipt per request (stockd makes the command id).
wrk.method = "POST"
wrk.body = '{"location":"WH-1","quantity":1}'
wrk.headers["Content-Type"] = "application/json"
