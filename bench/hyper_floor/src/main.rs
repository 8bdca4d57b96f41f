//! The floor under doorman's proxy: hyper's HTTP/1 server and client, in doorman's
//! thread model (one single-threaded runtime per core, each accepting on its own handle
//! of one listening socket, each with its own upstream pool), doing none of doorman's
//! work: no token check, no route, no headers but one. Every request goes to the one
//! upstream with an `Authorization: Bearer` of a size like doorman's exchanged token.
//!
//! `bench/proxy.sh` runs it as the row `floor` when `FLOOR=1`: the distance from doorman
//! to this row is what doorman's own per-request work costs, and the distance from this
//! row to nginx is what hyper costs and no change inside doorman can win back.
//!
//! usage: hyper-floor LISTEN_PORT UPSTREAM_PORT [THREADS, default: the cores]
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Upstream = Client<HttpConnector, Incoming>;
type Body = Either<Incoming, Full<Bytes>>;

/// About the size of the ES256 token doorman puts on the upstream request.
const TOKEN_BYTES: usize = 300;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port = |i: usize, what: &str| -> u16 {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or_else(|| {
            eprintln!("usage: hyper-floor LISTEN_PORT UPSTREAM_PORT [THREADS] ({what} missing or not a port)");
            std::process::exit(2)
        })
    };
    let (listen, upstream) = (port(1, "LISTEN_PORT"), port(2, "UPSTREAM_PORT"));
    let threads = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let listener = listen_on(SocketAddr::from(([127, 0, 0, 1], listen)));
    let authority: Authority = format!("127.0.0.1:{upstream}").parse().expect("an authority");
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let (listener, authority) = (listener.try_clone().expect("a listener handle"), authority.clone());
            std::thread::Builder::new()
                .name(format!("hyper-floor-{i}"))
                .spawn(move || serve(listener, authority))
                .expect("a worker thread")
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
}

fn listen_on(addr: SocketAddr) -> std::net::TcpListener {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(1024).expect("listen");
    socket.set_nonblocking(true).expect("non-blocking");
    socket.into()
}

fn serve(listener: std::net::TcpListener, authority: Authority) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let upstream: Upstream =
            Client::builder(TokioExecutor::new()).pool_max_idle_per_host(usize::MAX).build(connector);
        let token = HeaderValue::from_str(&format!("Bearer {}", "t".repeat(TOKEN_BYTES))).expect("a header value");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let (upstream, token, authority) = (upstream.clone(), token.clone(), authority.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let (upstream, token, authority) = (upstream.clone(), token.clone(), authority.clone());
                    async move { Ok::<_, Infallible>(forward(&upstream, token, authority, request).await) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}

async fn forward(
    upstream: &Upstream,
    token: HeaderValue,
    authority: Authority,
    mut request: Request<Incoming>,
) -> Response<Body> {
    let mut parts = hyper::http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority);
    parts.path_and_query = Some(request.uri().path_and_query().cloned().unwrap_or(PathAndQuery::from_static("/")));
    *request.uri_mut() = Uri::from_parts(parts).expect("a URI from its parts");
    request.headers_mut().insert(AUTHORIZATION, token);
    match upstream.request(request).await {
        Ok(response) => response.map(Either::Left),
        Err(_) => {
            let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(b"bad gateway"))));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    }
}
