"""A loopback HTTP proxy that adds a fixed latency to every request, in front of moto.

    python3 tests/aws/latency_proxy.py --upstream http://127.0.0.1:PORT [--delay-ms 50] [--port 0]

Real AWS API calls take tens of milliseconds; moto answers on loopback in a
millisecond or two from one Python process, which hides how well a collector
overlaps network latency. This proxy listens on 127.0.0.1, waits `delay_ms`
before forwarding each request to the upstream (moto), and answers with
moto's response. Every connection gets its own thread and the listen backlog
is large, so concurrency is unlimited: a client with 16 calls in flight
waits about one delay for all 16, a client with one call in flight waits one
delay per call.

It also counts what it forwards, per API operation: the `X-Amz-Target`
header (JSON protocols), else the `Action` parameter of the query string or
form body (query protocols: EC2, IAM, STS), else the REST request's method
and sub-resource (S3: `GET ?encryption`), each prefixed by the service of
the request's SigV4 credential scope. `tests/aws/bench_collect.py` imports
it, takes the counts after each tool (`take_counts`) and reports calls per
tool. Run on its own (above) it prints its URL, serves until interrupted
and prints the counts on exit; `GET /__latency_proxy/counts` answers them
meanwhile as JSON (the end-to-end tests read them so). Never rewrites a request or a response (the Host header and
the signature go through unchanged); hop-by-hop headers are dropped.
"""

import argparse
import collections
import http.client
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse

# Headers that describe one hop, never forwarded (RFC 9110 7.6.1).
HOP_BY_HOP = {"connection", "expect", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
# Not forwarded: answers the counts since the last `take` as a JSON object (for tests).
COUNTS_PATH = "/__latency_proxy/counts"
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


def operation(method, path, headers, body):
    """The API operation of one request: `service:Name` (see the module doc)."""
    match = SCOPE.search(headers.get("Authorization", ""))
    service = match.group(1) if match else "?"
    target = headers.get("X-Amz-Target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    action = query.get("Action")
    if not action and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return f"{service}:{action[0]}"
    # REST: the sub-resource names the operation (`?encryption`), else the
    # depth of the path (`/` lists buckets, `/bucket` is the bucket, deeper an object or a control path).
    subresources = sorted(k for k in query if k not in ("x-id", "bucket-region", "continuation-token", "prefix", "max-buckets"))
    if subresources:
        return f"{service}:{method} ?{'&'.join(subresources)}"
    parts = [p for p in url.path.split("/") if p]
    shape = "/" if not parts else "/{bucket}" if len(parts) == 1 else "/" + "/".join(parts[:1] + ["…"])
    if service == "s3" and url.path.startswith("/v20180820/"):
        shape = url.path
    return f"{service}:{method} {shape}"


class Counts:
    """Requests forwarded, per operation, since the last `take`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_op = collections.Counter()

    def add(self, op):
        with self._lock:
            self._by_op[op] += 1

    def peek(self):
        with self._lock:
            return collections.Counter(self._by_op)

    def take(self):
        with self._lock:
            taken, self._by_op = self._by_op, collections.Counter()
        return taken


def handler_class(upstream_host, upstream_port, delay, counts):
    local = threading.local()

    def upstream():
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(upstream_host, upstream_port, timeout=300)
            local.conn = conn
        return conn

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes: without TCP_NODELAY,
        # Nagle's algorithm and the client's delayed ACK add 40 ms to a call.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def forward(self):
            body = self.read_body()
            if self.path == COUNTS_PATH:
                self.send_counts()
                return
            counts.add(operation(self.command, self.path, self.headers, body))
            time.sleep(delay)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            for attempt in (1, 2):
                conn = upstream()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    break
                except (http.client.HTTPException, OSError):
                    # A kept-alive connection moto closed: one fresh try.
                    conn.close()
                    local.conn = None
                    if attempt == 2:
                        self.send_error(502, "upstream failed")
                        return
            self.send_response_only(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def send_counts(self):
            data = json.dumps(dict(counts.peek())).encode()
            self.send_response_only(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = forward

    return Handler


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


class LatencyProxy:
    """The proxy, served from a background thread: `url`, `take_counts()`, `stop()`."""

    def __init__(self, upstream, delay_ms=50.0, port=0):
        up = urllib.parse.urlsplit(upstream)
        self.delay_ms = delay_ms
        self.counts = Counts()
        handler = handler_class(up.hostname, up.port or 80, delay_ms / 1000.0, self.counts)
        self.server = Server(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take_counts(self):
        """Requests forwarded per operation since the last call (and reset)."""
        return self.counts.take()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="moto's endpoint, e.g. http://127.0.0.1:5000")
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    proxy = LatencyProxy(args.upstream, args.delay_ms, args.port)
    print(proxy.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        counts = proxy.take_counts()
        for op, n in counts.most_common():
            print(f"{n:8d}  {op}", file=sys.stderr)
        print(f"{sum(counts.values()):8d}  total", file=sys.stderr)


if __name__ == "__main__":
    main()
