-- wrk script for bench/serve.sh: every request posts one row as JSON.
-- serve.py reads the body from this line to check each server before load.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"instances":[{"f0":0.12,"f1":-0.3,"f2":0.5,"f3":1.1,"f4":-0.7,"f5":0.05,"f6":0.9,"f7":-1.2,"f8":0.33,"f9":-0.08}]}'
