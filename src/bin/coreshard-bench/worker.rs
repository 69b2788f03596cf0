//! One worker thread: an edge-triggered epoll loop over its connections.
//!
//! Closed loop: every connection keeps `pipeline` requests outstanding; each reply
//! lets a new request be queued, and everything queued on a connection goes out in
//! one `write`. Fixed rate: every connection has a schedule of intended send times;
//! a request is sent when its time has come (at once when behind schedule) and only
//! while fewer than `pipeline` are outstanding; its latency counts from the intended
//! time. The loop sleeps in `epoll_pwait2` (nanosecond timeout) until the next
//! scheduled send.
//!
//! Nothing on the hot path allocates: request bytes are copied from templates into
//! a reused write buffer, replies are scanned in place, and the in-flight queue has
//! a fixed capacity.

use std::collections::{HashSet, VecDeque};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::cli::Requests;
use crate::conn::{Conn, errno};
use crate::keys::{KeyGen, Pattern, Range, Rng};
use crate::resp;
use crate::template::Template;

/// Largest latency the histograms hold (one hour, in microseconds); larger values
/// are clamped to it.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Once the test time is over, how long outstanding replies are still awaited.
const DRAIN_NS: u64 = 2_000_000_000;

/// Everything the workers share, read-only.
pub struct Plan {
    pub templates: Vec<Template>,
    /// Result row of each template.
    pub rows_of: Vec<usize>,
    pub row_names: Vec<String>,
    pub weights: Vec<u64>,
    pub patterns: Vec<Pattern>,
    pub range: Range,
    pub requests: Requests,
    pub test_time_ns: Option<u64>,
    /// Requests per second in total.
    pub rate: Option<f64>,
    pub pipeline: usize,
    pub total_clients: u64,
    pub base_seed: u64,
    pub distinct_seed: bool,
    /// Error texts already reported (each distinct one is printed once).
    pub seen_errors: Mutex<HashSet<Vec<u8>>>,
}

/// Results of one command type.
#[derive(Clone)]
pub struct RowStats {
    pub hist: Histogram<u64>,
    pub ops: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub lat_sum_ns: u128,
}

impl RowStats {
    pub fn new() -> RowStats {
        RowStats {
            hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("histogram bounds"),
            ops: 0,
            hits: 0,
            misses: 0,
            errors: 0,
            lat_sum_ns: 0,
        }
    }

    pub fn merge(&mut self, o: &RowStats) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.hist.add(&o.hist);
        self.ops += o.ops;
        self.hits += o.hits;
        self.misses += o.misses;
        self.errors += o.errors;
        self.lat_sum_ns += o.lat_sum_ns;
    }

    #[inline]
    fn record(&mut self, ns: u64, r: &resp::Reply) {
        self.ops += 1;
        self.lat_sum_ns += ns as u128;
        self.hist.saturating_record((ns + 500) / 1000);
        self.hits += r.hits as u64;
        self.misses += r.misses as u64;
        self.errors += r.error as u64;
    }
}

/// What a worker hands back.
pub struct WorkerResult {
    pub rows: Vec<RowStats>,
    /// Time of the last reply, in ns since the common start.
    pub last_reply_ns: u64,
}

struct Client {
    conn: Conn,
    rng: Rng,
    gens: Vec<KeyGen>,
    /// `--requests allkeys`: this client's slice and the keys left in it.
    slice: Option<KeyGen>,
    keys_left: u64,
    sent: u64,
    target: u64,
    /// (row, start time ns) of each outstanding request, oldest first.
    inflight: VecDeque<(u32, u64)>,
    next_due: u64,
    interval: u64,
    done: bool,
}

/// Prints each distinct error text once per run (the per-thread set keeps the
/// shared lock off the path of repeated errors).
fn report_error(plan: &Plan, local: &mut HashSet<Vec<u8>>, reply: &[u8]) {
    // The text: an error line, or the payload of a blob error.
    let text = match reply.first() {
        Some(b'!') => {
            let s = reply.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
            &reply[s.min(reply.len())..reply.len().saturating_sub(2).max(s.min(reply.len()))]
        }
        _ => &reply[1.min(reply.len())..reply.len().saturating_sub(2).max(1.min(reply.len()))],
    };
    if local.contains(text) || local.len() >= 64 {
        return;
    }
    local.insert(text.to_vec());
    if let Ok(mut seen) = plan.seen_errors.lock()
        && seen.insert(text.to_vec())
    {
        eprintln!("server error: {}", String::from_utf8_lossy(text));
    }
}

/// The worker's clock: ns since the common start.
#[derive(Clone, Copy)]
pub struct Clock(pub Instant);

impl Clock {
    #[inline]
    pub fn now(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

pub struct Worker<'a> {
    plan: &'a Plan,
    clients: Vec<Client>,
    rows: Vec<RowStats>,
    clock: Clock,
    total_weight: u64,
    stopping: bool,
    last_reply: u64,
    local_errors: HashSet<Vec<u8>>,
}

impl<'a> Worker<'a> {
    /// `streams` are connected, non-blocking; `first_index` is the global index of
    /// the first one.
    pub fn new(plan: &'a Plan, streams: Vec<TcpStream>, first_index: u64, clock: Clock) -> Self {
        let interval = plan
            .rate
            .map(|r| (plan.total_clients as f64 * 1e9 / r) as u64)
            .unwrap_or(0);
        let clients = streams
            .into_iter()
            .enumerate()
            .map(|(i, stream)| {
                let g = first_index + i as u64;
                let seed = if plan.distinct_seed {
                    plan.base_seed ^ (g + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                } else {
                    plan.base_seed
                };
                let gens = plan
                    .patterns
                    .iter()
                    .map(|&p| KeyGen::new(p, &plan.range, g, plan.total_clients))
                    .collect();
                let (slice, keys_left, target) = match plan.requests {
                    Requests::AllKeys => {
                        let (lo, hi) = crate::keys::slice(
                            plan.range.min,
                            plan.range.max,
                            g,
                            plan.total_clients,
                        );
                        (Some(KeyGen::walk(lo, hi)), hi - lo, u64::MAX)
                    }
                    Requests::PerClient(n) if plan.test_time_ns.is_none() => (None, 0, n),
                    Requests::PerClient(_) => (None, 0, u64::MAX),
                };
                Client {
                    conn: Conn::new(stream),
                    rng: Rng::new(seed),
                    gens,
                    slice,
                    keys_left,
                    sent: 0,
                    target,
                    inflight: VecDeque::with_capacity(plan.pipeline),
                    // Clients' schedules are staggered so the total rate is even.
                    next_due: if interval > 0 {
                        (g as u128 * interval as u128 / plan.total_clients as u128) as u64
                    } else {
                        0
                    },
                    interval,
                    done: false,
                }
            })
            .collect();
        Worker {
            plan,
            clients,
            rows: plan.row_names.iter().map(|_| RowStats::new()).collect(),
            clock,
            total_weight: plan.weights.iter().sum(),
            stopping: false,
            last_reply: 0,
            local_errors: HashSet::new(),
        }
    }

    fn can_send(&self, c: &Client) -> bool {
        !self.stopping
            && if c.slice.is_some() {
                c.keys_left > 0
            } else {
                c.sent < c.target
            }
    }

    /// Queues one request on client `i`, started at `t`.
    #[inline]
    fn queue_one(&mut self, i: usize, t: u64) {
        let plan = self.plan;
        let c = &mut self.clients[i];
        // Weighted round robin over the templates.
        let mut pick = c.sent % self.total_weight;
        let mut ti = 0;
        while pick >= plan.weights[ti] {
            pick -= plan.weights[ti];
            ti += 1;
        }
        let tpl = &plan.templates[ti];
        let Client {
            rng,
            gens,
            slice,
            keys_left,
            conn,
            ..
        } = c;
        let wbuf = &mut conn.wbuf;
        match slice {
            Some(s) => {
                *keys_left = keys_left.saturating_sub(tpl.keys.max(1) as u64);
                tpl.fill(wbuf, || s.next(rng));
            }
            None => {
                let g = &mut gens[ti];
                tpl.fill(wbuf, || g.next(rng));
            }
        }
        c.sent += 1;
        c.inflight.push_back((plan.rows_of[ti] as u32, t));
    }

    /// Queues what client `i` may send now.
    fn refill(&mut self, i: usize, now: u64) {
        let pipeline = self.plan.pipeline;
        if self.plan.rate.is_some() {
            while self.clients[i].inflight.len() < pipeline
                && self.clients[i].next_due <= now
                && self.can_send(&self.clients[i])
            {
                let due = self.clients[i].next_due;
                self.clients[i].next_due += self.clients[i].interval;
                self.queue_one(i, due);
            }
        } else {
            while self.clients[i].inflight.len() < pipeline && self.can_send(&self.clients[i]) {
                self.queue_one(i, now);
            }
        }
    }

    /// Writes as much queued data as the socket takes.
    fn flush(&mut self, i: usize) -> Result<(), String> {
        self.clients[i].conn.flush()
    }

    /// Reads everything available on client `i` and accounts the replies.
    fn read(&mut self, i: usize, now: u64) -> Result<(), String> {
        while let Some(drained) = self.clients[i].conn.fill()? {
            self.consume(i, now)?;
            if drained {
                // Edge-triggered epoll will tell us about new data.
                return Ok(());
            }
        }
        Ok(())
    }

    /// Accounts every complete reply in client `i`'s buffer.
    fn consume(&mut self, i: usize, now: u64) -> Result<(), String> {
        while let Some((at, r)) = self.clients[i].conn.next()? {
            let Some((row, t)) = self.clients[i].inflight.pop_front() else {
                return Err("the server sent a reply nobody asked for".into());
            };
            self.rows[row as usize].record(now.saturating_sub(t), &r);
            self.last_reply = now;
            if r.error {
                let reply = &self.clients[i].conn.rbuf[at..at + r.len];
                report_error(self.plan, &mut self.local_errors, reply);
            }
        }
        Ok(())
    }

    fn check_done(&mut self, i: usize, active: &mut usize) {
        let c = &self.clients[i];
        if !c.done && c.inflight.is_empty() && !self.can_send(c) {
            self.clients[i].done = true;
            *active -= 1;
        }
    }

    /// Runs to completion.
    pub fn run(mut self) -> Result<WorkerResult, String> {
        // SAFETY: plain syscall; the fd is closed below.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(format!(
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            ));
        }
        let r = self.event_loop(ep);
        // SAFETY: `ep` is our epoll fd, closed once.
        unsafe { libc::close(ep) };
        r?;
        Ok(WorkerResult {
            rows: self.rows,
            last_reply_ns: self.last_reply,
        })
    }

    fn event_loop(&mut self, ep: i32) -> Result<(), String> {
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLET | libc::EPOLLRDHUP) as u32,
                u64: i as u64,
            };
            // SAFETY: `ev` is a valid epoll_event; the fd stays open for the loop.
            let rc = unsafe {
                libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, c.conn.stream.as_raw_fd(), &mut ev)
            };
            if rc < 0 {
                return Err(format!("epoll_ctl: {}", std::io::Error::last_os_error()));
            }
        }
        if self.plan.rate.is_some() {
            // Fixed-rate sends wake on timers: without this the kernel may fire them up
            // to 50 µs late (default timer slack), and that delay would count as latency.
            // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects this thread only.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        }
        let mut active = self.clients.len();
        let now = self.clock.now();
        for i in 0..self.clients.len() {
            self.refill(i, now);
            self.flush(i)?;
            self.check_done(i, &mut active);
        }
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; self.clients.len().max(1)];
        let rate = self.plan.rate.is_some();
        let deadline = self.plan.test_time_ns;
        let mut drain_until = u64::MAX;
        let mut use_pwait2 = true;
        while active > 0 {
            // How long to sleep: until the next scheduled send, the end of the test
            // time, or indefinitely.
            let now = self.clock.now();
            let mut wake = u64::MAX;
            if let Some(d) = deadline {
                wake = if self.stopping { drain_until } else { d };
            }
            if rate && !self.stopping {
                for c in &self.clients {
                    if !c.done && c.inflight.len() < self.plan.pipeline && self.can_send(c) {
                        wake = wake.min(c.next_due);
                    }
                }
            }
            let n = self.wait(ep, &mut events, wake, now, &mut use_pwait2)?;
            let now = self.clock.now();
            if let Some(d) = deadline
                && now >= d
                && !self.stopping
            {
                self.stopping = true;
                drain_until = now + DRAIN_NS;
                for i in 0..self.clients.len() {
                    self.check_done(i, &mut active);
                }
            }
            if self.stopping && now >= drain_until {
                // Replies still missing after the drain time are abandoned.
                break;
            }
            for (k, ev) in events[..n].iter().enumerate() {
                let (bits, i) = (ev.events, ev.u64 as usize);
                if self.clients[i].done {
                    continue;
                }
                // A fresh timestamp per connection (the first one is still fresh):
                // replies handled late in a batch are not credited the batch start.
                let now = if k == 0 { now } else { self.clock.now() };
                if bits
                    & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLRDHUP) as u32
                    != 0
                {
                    self.read(i, now)?;
                }
                self.refill(i, now);
                self.flush(i)?;
                self.check_done(i, &mut active);
            }
            if rate && !self.stopping {
                for i in 0..self.clients.len() {
                    if !self.clients[i].done {
                        let before = self.clients[i].conn.wbuf.len();
                        self.refill(i, now);
                        if self.clients[i].conn.wbuf.len() != before {
                            self.flush(i)?;
                        }
                        self.check_done(i, &mut active);
                    }
                }
            }
        }
        Ok(())
    }

    /// Waits for events until `wake` (ns on our clock; `u64::MAX`: no limit).
    fn wait(
        &self,
        ep: i32,
        events: &mut [libc::epoll_event],
        wake: u64,
        now: u64,
        use_pwait2: &mut bool,
    ) -> Result<usize, String> {
        loop {
            let max = events.len() as i32;
            let rc = if wake == u64::MAX {
                // SAFETY: `events` is a valid buffer of `max` entries.
                unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), max, -1) }
            } else {
                let ns = wake.saturating_sub(now);
                if *use_pwait2 {
                    let ts = libc::timespec {
                        tv_sec: (ns / 1_000_000_000) as libc::time_t,
                        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
                    };
                    // SAFETY: valid buffer and timespec; a null sigmask means none.
                    unsafe {
                        libc::epoll_pwait2(ep, events.as_mut_ptr(), max, &ts, std::ptr::null())
                    }
                } else {
                    // Older kernels: millisecond timeouts, rounded down (then spin).
                    let ms = (ns / 1_000_000).min(i32::MAX as u64) as i32;
                    // SAFETY: `events` is a valid buffer of `max` entries.
                    unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), max, ms) }
                }
            };
            if rc >= 0 {
                return Ok(rc as usize);
            }
            match errno() {
                libc::EINTR => continue,
                libc::ENOSYS if *use_pwait2 => *use_pwait2 = false,
                _ => return Err(format!("epoll_wait: {}", std::io::Error::last_os_error())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::split_args;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn plan(lines: &[&str], requests: u64, pipeline: usize, clients: u64) -> Plan {
        let templates: Vec<Template> = lines
            .iter()
            .map(|l| Template::new(&split_args(l).unwrap(), b"k", 0, 3).unwrap())
            .collect();
        let row_names: Vec<String> = templates.iter().map(|t| t.name.clone()).collect();
        Plan {
            rows_of: (0..templates.len()).collect(),
            row_names,
            weights: vec![1; templates.len()],
            patterns: vec![Pattern::Sequential; templates.len()],
            templates,
            range: Range {
                min: 0,
                max: 99,
                median: 50.0,
                stddev: 10.0,
                zipf_exp: 1.0,
            },
            requests: Requests::PerClient(requests),
            test_time_ns: None,
            rate: None,
            pipeline,
            total_clients: clients,
            base_seed: 1,
            distinct_seed: false,
            seen_errors: Mutex::new(HashSet::new()),
        }
    }

    /// A fake server that answers SET with +OK, GET with a bulk or a null (odd
    /// keys miss), anything else with an error, writing replies one byte at a time
    /// so the client sees them split at every point.
    fn fake_server(conns: usize) -> (u16, std::thread::JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let mut threads = Vec::new();
            for _ in 0..conns {
                let (mut s, _) = l.accept().unwrap();
                threads.push(std::thread::spawn(move || {
                    s.set_nodelay(true).unwrap();
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = match s.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        // Requests are RESP arrays: the reply scanner frames them too.
                        while let Ok(Some(r)) = resp::scan(&buf) {
                            let req = String::from_utf8_lossy(&buf[..r.len]).into_owned();
                            buf.drain(..r.len);
                            let reply: &[u8] = if req.contains("SET") {
                                b"+OK\r\n"
                            } else if req.contains("GET") {
                                let key_digit = req.trim_end().chars().last().unwrap();
                                if key_digit.to_digit(10).unwrap() % 2 == 1 {
                                    b"$-1\r\n"
                                } else {
                                    b"$3\r\nabc\r\n"
                                }
                            } else {
                                b"-ERR nope\r\n"
                            };
                            for b in reply {
                                if s.write_all(std::slice::from_ref(b)).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }));
            }
            for t in threads {
                let _ = t.join();
            }
        });
        (port, h)
    }

    fn run(p: &Plan, clients: usize) -> WorkerResult {
        let (port, server) = fake_server(clients);
        let streams: Vec<TcpStream> = (0..clients)
            .map(|_| {
                let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_nonblocking(true).unwrap();
                s
            })
            .collect();
        let r = Worker::new(p, streams, 0, Clock(Instant::now()))
            .run()
            .unwrap();
        server.join().unwrap();
        r
    }

    #[test]
    fn closed_loop_counts_split_replies() {
        let p = plan(&["SET __key__ __data__", "GET __key__", "NOPE"], 30, 4, 3);
        let r = run(&p, 3);
        let (set, get, nope) = (&r.rows[0], &r.rows[1], &r.rows[2]);
        assert_eq!((set.ops, get.ops, nope.ops), (30, 30, 30));
        assert_eq!((set.hits, set.misses, set.errors), (0, 0, 0));
        // Sequential keys 0..9 per client: half even (hit), half odd (miss).
        assert_eq!((get.hits, get.misses, get.errors), (15, 15, 0));
        assert_eq!(nope.errors, 30);
        assert_eq!(set.hist.len(), 30);
        assert!(r.last_reply_ns > 0);
    }

    #[test]
    fn fixed_rate_keeps_the_schedule() {
        let mut p = plan(&["GET __key__"], 20, 2, 2);
        // 2 clients x 20 requests at 400/s in total: about 0.1 s.
        p.rate = Some(400.0);
        let start = Instant::now();
        let r = run(&p, 2);
        let took = start.elapsed().as_secs_f64();
        assert_eq!(r.rows[0].ops, 40);
        assert!(took >= 0.09, "too fast: {took}");
        let last = r.last_reply_ns as f64 / 1e9;
        assert!((0.09..1.0).contains(&last), "last reply at {last}");
    }
}
