//! Pub/sub mode (`--subscribers N`): publishers and subscribers in one event loop.
//!
//! Every subscriber connection subscribes to the channel (or, with
//! `--subscribe-patterns`, to its own glob pattern that matches the channel); every
//! `-c` connection publishes to it. A message's payload names its publisher and
//! sequence number (`<publisher>:<seq>:` padded with `x` to `-d` bytes), so each
//! subscriber checks that every publisher's messages arrive complete and in order.
//!
//! The loop is closed end to end: a publisher keeps at most `--pipeline` messages
//! that have not yet reached every subscriber. A message counts as sent when its
//! PUBLISH is queued; its delivery latency is measured to each subscriber that
//! receives it (the `message` row), and the PUBLISH reply latency is the `PUBLISH`
//! row. A PUBLISH reply that counts other than `N` receivers is an error. Without
//! the window a server that publishes faster than subscribers read would only fill
//! its output buffers until its pub/sub limit disconnects them.

use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Instant;

use crate::conn::{Conn, errno, os_err};
use crate::worker::{Clock, RowStats};

/// Once the test time is over, how long undelivered messages are still awaited.
const DRAIN_NS: u64 = 2_000_000_000;

/// What the run is asked to do.
pub struct PubSubPlan {
    pub channel: String,
    pub patterns: bool,
    pub data_size: usize,
    /// Messages per publisher not yet delivered to every subscriber.
    pub window: usize,
    /// Run time, or messages per publisher.
    pub test_time_ns: Option<u64>,
    pub messages: u64,
}

/// Figures of a run.
pub struct PubSubResult {
    pub publish: RowStats,
    pub message: RowStats,
    /// Time of the last delivery, ns since the start.
    pub last_ns: u64,
}

/// A RESP command of bulk strings.
fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Subscriber `i`'s pattern: distinct per subscriber, matching `channel`.
pub fn pattern_for(channel: &str, i: usize) -> String {
    // `[<first char><i>]` matches the channel's first character and no pattern
    // repeats, so the server matches every one of them per message.
    let mut cs = channel.chars();
    let first = cs.next().unwrap_or('x');
    let rest: String = cs.collect();
    let class = if first == ']' || first == '^' || first == '\\' || first == '-' {
        format!("\\{first}")
    } else {
        first.to_string()
    };
    format!("[{class}{i}]{}", escape_glob(&rest))
}

fn escape_glob(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// The payload of a message or pmessage push, when `msg` is one.
fn payload(msg: &[u8]) -> Option<&[u8]> {
    // The last element is a bulk string: its bytes follow the last line break
    // before the closing CRLF (payloads never contain CR or LF).
    let body = msg.strip_suffix(b"\r\n")?;
    let start = body.iter().rposition(|&b| b == b'\n')? + 1;
    let is_push = msg.starts_with(b"*3\r\n$7\r\nmessage\r\n")
        || msg.starts_with(b"*4\r\n$8\r\npmessage\r\n")
        || msg.starts_with(b">3\r\n$7\r\nmessage\r\n")
        || msg.starts_with(b">4\r\n$8\r\npmessage\r\n");
    is_push.then(|| &body[start..])
}

/// `<publisher>:<seq>:` at the start of a payload.
fn parse_payload(p: &[u8]) -> Option<(usize, u64)> {
    let mut it = p.split(|&b| b == b':');
    let a = std::str::from_utf8(it.next()?).ok()?.parse().ok()?;
    let b = std::str::from_utf8(it.next()?).ok()?.parse().ok()?;
    it.next()?;
    Some((a, b))
}

struct Publisher {
    conn: Conn,
    /// Next sequence number to publish.
    next: u64,
    /// Messages below this reached every subscriber.
    done: u64,
    /// Per window slot: send time and how many subscribers have it.
    sent_at: Vec<u64>,
    got: Vec<u32>,
    /// Send times of PUBLISH commands whose replies are due, oldest first.
    replies: std::collections::VecDeque<u64>,
}

struct Subscriber {
    conn: Conn,
    /// Per publisher: the next sequence number expected.
    expect: Vec<u64>,
}

/// Subscribes every subscriber (blocking until confirmed), then runs the load.
pub fn run(
    plan: &PubSubPlan,
    publishers: Vec<TcpStream>,
    subscribers: Vec<TcpStream>,
) -> Result<PubSubResult, String> {
    let n_pubs = publishers.len();
    let n_subs = subscribers.len();
    let mut subs = Vec::with_capacity(n_subs);
    for (i, s) in subscribers.into_iter().enumerate() {
        let mut c = Conn::new(s);
        if plan.patterns {
            let p = pattern_for(&plan.channel, i);
            command(&mut c.wbuf, &[b"PSUBSCRIBE", p.as_bytes()]);
        } else {
            command(&mut c.wbuf, &[b"SUBSCRIBE", plan.channel.as_bytes()]);
        }
        subs.push(Subscriber {
            conn: c,
            expect: vec![0; n_pubs],
        });
    }
    // Confirmations: the sockets are non-blocking, so wait with poll().
    for s in &mut subs {
        loop {
            s.conn.flush()?;
            if let Some((at, r)) = s.conn.next()? {
                let reply = &s.conn.rbuf[at..at + r.len];
                if r.error || !(reply.contains(&b's') && reply.ends_with(b":1\r\n")) {
                    return Err(format!(
                        "subscribing failed: {}",
                        String::from_utf8_lossy(reply).trim_end()
                    ));
                }
                break;
            }
            wait_readable(s.conn.stream.as_raw_fd())?;
            s.conn.fill()?;
        }
    }
    let window = plan.window.max(1);
    let mut pubs: Vec<Publisher> = publishers
        .into_iter()
        .map(|s| Publisher {
            conn: Conn::new(s),
            next: 0,
            done: 0,
            sent_at: vec![0; window],
            got: vec![0; window],
            replies: std::collections::VecDeque::with_capacity(window),
        })
        .collect();

    let clock = Clock(Instant::now());
    let mut publish = RowStats::new();
    let mut message = RowStats::new();
    let mut last_ns = 0u64;
    let mut wrong_count_reported = false;
    let filler = vec![b'x'; plan.data_size];

    // SAFETY: plain syscall; the fd is closed at the end.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(os_err("epoll_create1"));
    }
    let guard = EpollFd(ep);
    let all = pubs
        .iter()
        .map(|p| p.conn.stream.as_raw_fd())
        .chain(subs.iter().map(|s| s.conn.stream.as_raw_fd()));
    for (tag, fd) in all.enumerate() {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLET | libc::EPOLLRDHUP) as u32,
            u64: tag as u64,
        };
        // SAFETY: valid epoll_event; the fd stays open for the loop.
        if unsafe { libc::epoll_ctl(guard.0, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(os_err("epoll_ctl"));
        }
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; n_pubs + n_subs];
    let mut stopping = false;
    let mut drain_until = u64::MAX;
    let mut payload_buf = Vec::with_capacity(plan.data_size + 32);

    // Queues what publisher `k` may publish now.
    let refill = |p: &mut Publisher, k: usize, now: u64, stopping: bool, buf: &mut Vec<u8>| {
        let limit = match plan.test_time_ns {
            Some(_) if stopping => p.next,
            Some(_) => u64::MAX,
            None => plan.messages,
        };
        while p.next - p.done < window as u64 && p.next < limit {
            buf.clear();
            buf.extend_from_slice(format!("{k}:{}:", p.next).as_bytes());
            if buf.len() < plan.data_size {
                let pad = plan.data_size - buf.len();
                buf.extend_from_slice(&filler[..pad]);
            }
            command(
                &mut p.conn.wbuf,
                &[b"PUBLISH", plan.channel.as_bytes(), buf],
            );
            let slot = (p.next % window as u64) as usize;
            p.sent_at[slot] = now;
            p.got[slot] = 0;
            p.replies.push_back(now);
            p.next += 1;
        }
    };
    let now = clock.now();
    for (k, p) in pubs.iter_mut().enumerate() {
        refill(p, k, now, false, &mut payload_buf);
        p.conn.flush()?;
    }
    let expected_receivers = format!(":{n_subs}\r\n");
    loop {
        let finished = pubs.iter().all(|p| {
            p.replies.is_empty()
                && p.done == p.next
                && (stopping || plan.test_time_ns.is_none() && p.next >= plan.messages)
        });
        if finished {
            break;
        }
        let now = clock.now();
        let wake = match plan.test_time_ns {
            Some(_) if stopping => drain_until,
            Some(d) => d,
            None => u64::MAX,
        };
        let timeout_ms = if wake == u64::MAX {
            -1
        } else {
            (wake.saturating_sub(now).div_ceil(1_000_000)).min(i32::MAX as u64) as i32
        };
        // SAFETY: `events` is a valid buffer of its length.
        let n = unsafe {
            libc::epoll_wait(
                guard.0,
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return Err(os_err("epoll_wait"));
        }
        let now = clock.now();
        if let Some(d) = plan.test_time_ns
            && now >= d
            && !stopping
        {
            stopping = true;
            drain_until = now + DRAIN_NS;
        }
        if stopping && now >= drain_until {
            return Err("messages were still undelivered 2 s after the end of the run".into());
        }
        let mut touched = vec![false; n_pubs];
        for (e, ev) in events[..n as usize].iter().enumerate() {
            // A fresh time per connection: messages read late in a batch are not
            // credited the batch start.
            let now = if e == 0 { now } else { clock.now() };
            let tag = ev.u64 as usize;
            let readable = ev.events
                & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLRDHUP) as u32
                != 0;
            if tag < n_pubs {
                touched[tag] = true;
                if !readable {
                    continue;
                }
                let p = &mut pubs[tag];
                while let Some(drained) = p.conn.fill()? {
                    while let Some((at, r)) = p.conn.next()? {
                        let Some(t) = p.replies.pop_front() else {
                            return Err("the server sent a reply nobody asked for".into());
                        };
                        let reply = &p.conn.rbuf[at..at + r.len];
                        publish.ops += 1;
                        let ns = now.saturating_sub(t);
                        publish.lat_sum_ns += ns as u128;
                        publish.hist.saturating_record((ns + 500) / 1000);
                        if r.error || reply != expected_receivers.as_bytes() {
                            publish.errors += 1;
                            if !wrong_count_reported {
                                wrong_count_reported = true;
                                eprintln!(
                                    "PUBLISH replied {} (expected {} receivers)",
                                    String::from_utf8_lossy(reply).trim_end(),
                                    n_subs
                                );
                            }
                        }
                    }
                    if drained {
                        break;
                    }
                }
            } else {
                if !readable {
                    continue;
                }
                let s = &mut subs[tag - n_pubs];
                while let Some(drained) = s.conn.fill()? {
                    while let Some((at, r)) = s.conn.next()? {
                        let msg = &s.conn.rbuf[at..at + r.len];
                        let Some((k, seq)) = payload(msg).and_then(parse_payload) else {
                            return Err(format!(
                                "a subscriber got an unexpected reply: {}",
                                String::from_utf8_lossy(&msg[..msg.len().min(80)])
                            ));
                        };
                        let Some(p) = pubs.get_mut(k) else {
                            return Err(format!(
                                "a message names publisher {k}, which is not ours"
                            ));
                        };
                        if s.expect[k] != seq || seq < p.done || seq >= p.next {
                            return Err(format!(
                                "publisher {k}: message {seq} arrived where {} was due",
                                s.expect[k]
                            ));
                        }
                        s.expect[k] = seq + 1;
                        let slot = (seq % window as u64) as usize;
                        let ns = now.saturating_sub(p.sent_at[slot]);
                        message.ops += 1;
                        message.lat_sum_ns += ns as u128;
                        message.hist.saturating_record((ns + 500) / 1000);
                        last_ns = now;
                        p.got[slot] += 1;
                        if seq == p.done {
                            while p.done < p.next {
                                let sl = (p.done % window as u64) as usize;
                                if p.got[sl] as usize != n_subs {
                                    break;
                                }
                                p.done += 1;
                            }
                            touched[k] = true;
                        }
                    }
                    if drained {
                        break;
                    }
                }
            }
        }
        for (k, p) in pubs.iter_mut().enumerate() {
            if touched[k] {
                refill(p, k, now, stopping, &mut payload_buf);
                p.conn.flush()?;
            }
        }
    }
    Ok(PubSubResult {
        publish,
        message,
        last_ns,
    })
}

/// Closes the epoll fd when dropped.
struct EpollFd(i32);

impl Drop for EpollFd {
    fn drop(&mut self) {
        // SAFETY: our own fd, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// Blocks until `fd` is readable.
fn wait_readable(fd: i32) -> Result<(), String> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, 10_000) };
        if rc > 0 {
            return Ok(());
        }
        if rc == 0 {
            return Err("no subscribe confirmation within 10 s".into());
        }
        if errno() != libc::EINTR {
            return Err(os_err("poll"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_of_pushes() {
        let m = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$8\r\n3:17:xxx\r\n";
        assert_eq!(payload(m), Some(&b"3:17:xxx"[..]));
        assert_eq!(parse_payload(b"3:17:xxx"), Some((3, 17)));
        let pm = b"*4\r\n$8\r\npmessage\r\n$4\r\n[c1]\r\n$2\r\nch\r\n$4\r\n0:0:\r\n";
        assert_eq!(payload(pm).and_then(parse_payload), Some((0, 0)));
        let r3 = b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\n1:2:\r\n";
        assert_eq!(payload(r3).and_then(parse_payload), Some((1, 2)));
        assert_eq!(payload(b":1\r\n"), None);
        assert_eq!(parse_payload(b"x:1:"), None);
        assert_eq!(parse_payload(b"1:2"), None);
    }

    #[test]
    fn patterns_are_distinct_and_match() {
        let p: Vec<String> = (0..12).map(|i| pattern_for("bench:ch", i)).collect();
        assert_eq!(p[0], "[b0]ench:ch");
        assert_eq!(p[11], "[b11]ench:ch");
        let mut d = p.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), p.len());
        assert_eq!(pattern_for("a*b", 3), "[a3]\\*b");
    }
}
