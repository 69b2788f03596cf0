//! One client connection's socket: read, parse, hand each request to its
//! [`Session`], write the replies.
//!
//! ```text
//!  accept ─► register the client ─► Session::new
//!  loop: read ─► parse up to PREFETCH_BATCH requests ─► prefetch their keys
//!        ─► session.dispatch each ─► flush the session's pending hops
//!        ─► write `out` (output limits checked) ─► trim buffers
//!  close ─► unregister; tracking, pub/sub and WATCH state released
//! ```

use crate::command::session::clients::{
    ClientHandle, ClientInfo, enforce_output_limit, note_client_memory,
};
use crate::command::session::{
    Batched, Fast, OUT_FLUSH_THRESHOLD, PREFETCH_BATCH, READ_BUF_INITIAL, Session, SessionCore,
    pubsub, tracking,
};
use crate::metrics;
use crate::protocol::{Args, ParseLimits, Parsed, Resume, parse_command_resumable};
use crate::runtime::Socket;
use crate::shard::Core;
use crate::storage::db::HintScope;
use std::cell::RefCell;
use std::os::fd::{BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Sets TCP_NODELAY and reads the peer and local addresses of an accepted socket.
fn socket_setup(fd: RawFd) -> (String, String) {
    // SAFETY: `fd` is an accepted socket owned by this connection for its
    // whole life; the borrow does not outlive this function.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let s = socket2::SockRef::from(&b);
    let _ = s.set_nodelay(true);
    let addr = |a: std::io::Result<socket2::SockAddr>| {
        a.ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    (addr(s.peer_addr()), addr(s.local_addr()))
}

/// Serves one accepted connection until it closes.
pub async fn serve(core: Rc<Core>, fd: RawFd) {
    let (peer, local) = socket_setup(fd);
    let (qlimit, null, maxclients) = {
        let c = core.config.borrow();
        (
            c.client_query_buffer_limit.max(1) as usize,
            c.get_bool("null-server"),
            c.maxclients,
        )
    };
    let sock = Socket::new(fd, qlimit);
    if null {
        null_loop(&sock).await;
        sock.close();
        return;
    }
    let engine = core.engine.clone();
    if engine.connected.load(Ordering::Relaxed) as i64 >= maxclients {
        metrics::with(|s| s.rejected_connections += 1);
        sock.write_bytes(b"-ERR max number of clients reached\r\n");
        sock.close();
        return;
    }
    engine.connected.fetch_add(1, Ordering::Relaxed);
    metrics::with(|s| s.total_connections_received += 1);
    let id = engine.next_client_id.fetch_add(1, Ordering::Relaxed);
    let info = ClientInfo::new(id, peer, local, fd);
    let handle = Rc::new(ClientHandle {
        info: RefCell::new(info),
        killed: Default::default(),
        socket: sock.clone(),
        soft_limit_since: Default::default(),
        subs: Default::default(),
        tracking: Default::default(),
        held: Default::default(),
    });
    core.clients().borrow_mut().add(handle.clone());
    let mut conn = Session::new(core.clone(), handle);
    serve_loop(&mut conn, &sock).await;
    sock.close();
    // Gone for everyone at once, as a freed Redis client: the cleanup below
    // waits on other cores, and meanwhile nothing may be delivered to this
    // client as if it were alive (a tracking redirect to it is broken now).
    if core.clients().borrow_mut().remove(id) {
        engine.connected.fetch_sub(1, Ordering::Relaxed);
    }
    conn.stop_monitor();
    tracking::disable(&mut conn).await;
    pubsub::forget(&mut conn).await;
    if !conn.watched.keys.is_empty() {
        conn.unwatch_all().await;
    }
}

/// `null-server yes`: frames requests with the real parser and answers each
/// with `+OK`, touching nothing else. It measures the network path, runtime and
/// parsing alone: the ceiling for any command.
async fn null_loop(sock: &Socket) {
    const OK: &[u8] = b"+OK\r\n";
    let mut rbuf = Vec::new();
    let mut ranges = Vec::new();
    let mut scratch = Vec::new();
    let mut resume = Resume::default();
    let mut out = Vec::with_capacity(READ_BUF_INITIAL);
    let limits = ParseLimits {
        max_bulk_len: crate::config::DEFAULT_PROTO_MAX_BULK_LEN,
    };
    loop {
        if sock.read_into(&mut rbuf).await == 0 {
            return;
        }
        let mut pos = 0;
        while pos < rbuf.len() {
            match parse_command_resumable(
                &rbuf[pos..],
                &mut ranges,
                &mut scratch,
                &limits,
                &mut resume,
            ) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Skip { consumed }) => pos += consumed,
                Ok(Parsed::Command { consumed, .. }) => {
                    out.extend_from_slice(OK);
                    pos += consumed;
                }
                Err(e) => {
                    out.extend_from_slice(format!("-{}\r\n", e.message()).as_bytes());
                    sock.write(&mut out);
                    return;
                }
            }
        }
        rbuf.drain(..pos);
        sock.write(&mut out);
    }
}

async fn serve_loop(conn: &mut Session, sock: &Socket) {
    let mut rbuf: Vec<u8> = Vec::new();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    // Progress through an incomplete request, kept across reads.
    let mut resume = Resume::default();
    let mut input_limit = 0usize;
    let mut batch: Vec<Batched> = Vec::with_capacity(PREFETCH_BATCH);
    let mut batch_ranges: Vec<(usize, usize)> = Vec::new();
    loop {
        if conn.handle.killed.get() {
            return;
        }
        let (qlimit, limits) = {
            let c = conn.core.config.borrow();
            (
                c.client_query_buffer_limit.max(1) as usize,
                ParseLimits {
                    max_bulk_len: c.proto_max_bulk_len,
                },
            )
        };
        if qlimit != input_limit {
            input_limit = qlimit;
            sock.set_input_limit(qlimit);
        }
        let n = sock.read_into(&mut rbuf).await;
        if n == 0 || rbuf.len() > qlimit {
            if sock.input_overflowed() || rbuf.len() > qlimit {
                tracing::warn!(
                    "closing client {} that reached max query buffer length",
                    conn.id
                );
                metrics::with(|s| s.client_query_buffer_limit_disconnections += 1);
            }
            return;
        }
        conn.set_now();
        if conn.tracking {
            tracking::hold(&conn.handle);
        }
        {
            let mut info = conn.handle.info.borrow_mut();
            info.qbuf = rbuf.len();
            info.qbuf_free = rbuf.capacity() - rbuf.len();
            info.last_interaction = conn.now;
        }
        note_client_memory(&conn.core, &conn.handle);
        metrics::with(|s| {
            s.net_input_bytes += n as u64;
            s.total_reads_processed += 1;
        });
        let mut pos = 0usize;
        let mut proto_err = None;
        let mut limits = limits;
        'read: while pos < rbuf.len() && !conn.close {
            // Parse ahead up to PREFETCH_BATCH requests, start loading their
            // keys' cache lines, then run them: the misses of a pipeline
            // overlap instead of following one another.
            batch.clear();
            batch_ranges.clear();
            let mut p = pos;
            while batch.len() < PREFETCH_BATCH && p < rbuf.len() {
                // CONFIG SET earlier in this same read may have changed the limit.
                limits.max_bulk_len = conn.core.config.borrow().proto_max_bulk_len;
                match parse_command_resumable(
                    &rbuf[p..],
                    &mut ranges,
                    &mut scratch,
                    &limits,
                    &mut resume,
                ) {
                    Ok(Parsed::Incomplete) => break,
                    Ok(Parsed::Skip { consumed }) => {
                        p += consumed;
                        if batch.is_empty() {
                            pos = p;
                        }
                    }
                    Ok(Parsed::Command { consumed, inline }) => {
                        let first = batch_ranges.len();
                        let base = if inline { 0 } else { p };
                        batch_ranges.extend(ranges.iter().map(|&(a, b)| (a + base, b + base)));
                        p += consumed;
                        batch.push(Batched {
                            ranges: (first, batch_ranges.len()),
                            end: p,
                            inline,
                            spec: None,
                            hint: None,
                            owned: false,
                        });
                        // An inline request's arguments live in `scratch`,
                        // which the next parse reuses; CONFIG may change how
                        // the rest must be parsed.
                        let config = !inline
                            && batch_ranges
                                .get(first)
                                .is_some_and(|&(a, b)| rbuf[a..b].eq_ignore_ascii_case(b"config"));
                        if inline || config {
                            break;
                        }
                    }
                    Err(e) => {
                        proto_err = Some(e);
                        break;
                    }
                }
            }
            if batch.len() > 1 {
                conn.prefetch_batch(&rbuf, &mut batch, &batch_ranges);
                metrics::clock::lap_start();
            }
            for b in batch.iter() {
                let r = &batch_ranges[b.ranges.0..b.ranges.1];
                let args = if b.inline {
                    Args::new(&scratch, r)
                } else {
                    Args::new(&rbuf, r)
                };
                // The executing shard reuses the key's slot and hash from
                // the prefetch stage.
                let memo = b.hint.map(|(h, (s, e))| HintScope::new(&rbuf[s..e], h));
                conn.alone = b.end == rbuf.len();
                match b.spec {
                    Some(spec) => match conn.dispatch_fast(spec, args) {
                        Fast::Done => {}
                        Fast::Flush => conn.flush_pending().await,
                        Fast::Routed(spec, routed) => conn.finish_routed(spec, args, routed).await,
                        Fast::Slow => conn.dispatch_found(spec, args).await,
                    },
                    None => conn.dispatch(args).await,
                }
                drop(memo);
                pos = b.end;
                if conn.handle.killed.get() {
                    return;
                }
                // Large replies go to the socket as they are made, so the
                // output limit sees them before a long pipeline ends.
                if conn.out.len() >= OUT_FLUSH_THRESHOLD {
                    metrics::with(|s| s.net_output_bytes += conn.out.len() as u64);
                    sock.write(&mut conn.out);
                    if enforce_output_limit(&conn.core, &conn.handle) {
                        return;
                    }
                }
                if conn.close {
                    break 'read;
                }
            }
            metrics::clock::lap_clear();
            if proto_err.is_some() || batch.is_empty() {
                break;
            }
        }
        if pos > 0 {
            rbuf.drain(..pos);
        }
        conn.flush_pending().await;
        if let Some(e) = proto_err {
            conn.error(&e.message());
            conn.close = true;
        }
        {
            let mut info = conn.handle.info.borrow_mut();
            info.qbuf = rbuf.len();
            info.qbuf_free = rbuf.capacity() - rbuf.len();
            info.db = conn.db;
            info.resp = if conn.resp3 { 3 } else { 2 };
        }
        if conn.tracking {
            tracking::release(&conn.handle, &mut conn.out);
        }
        if !conn.out.is_empty() {
            metrics::with(|s| {
                s.net_output_bytes += conn.out.len() as u64;
                s.total_writes_processed += 1;
            });
            sock.write(&mut conn.out);
            if enforce_output_limit(&conn.core, &conn.handle) {
                return;
            }
        }
        if conn.close || sock.broken() {
            return;
        }
        if rbuf.is_empty() && rbuf.capacity() > 4 * READ_BUF_INITIAL {
            rbuf = Vec::new();
        }
        // A request with many arguments grew these; once nothing is left
        // half-parsed, give the memory back (Redis frees a command's argument
        // vector after it runs).
        if rbuf.is_empty() {
            if ranges.capacity() > 4096 {
                ranges = Vec::new();
            }
            if batch_ranges.capacity() > 4096 {
                batch_ranges = Vec::new();
            }
            if scratch.capacity() > 4 * READ_BUF_INITIAL {
                scratch = Vec::new();
            }
        }
        conn.trim_buffers();
        conn.handle.info.borrow_mut().reply_alloc = conn.reply_alloc();
        note_client_memory(&conn.core, &conn.handle);
    }
}
