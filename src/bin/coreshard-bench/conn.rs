//! One non-blocking connection's buffers: requests queued for one `write`,
//! replies read into a buffer and taken off it one complete reply at a time.

use std::net::TcpStream;
use std::os::fd::AsRawFd;

use crate::resp;

/// Receive buffer size per connection (grows when a single reply is larger).
const RBUF: usize = 64 * 1024;

pub struct Conn {
    pub stream: TcpStream,
    /// Bytes queued to send, from `wpos` on.
    pub wbuf: Vec<u8>,
    wpos: usize,
    /// Received bytes not taken yet: `rbuf[rstart..rend]`.
    pub rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
}

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            wbuf: Vec::with_capacity(4096),
            wpos: 0,
            rbuf: vec![0u8; RBUF],
            rstart: 0,
            rend: 0,
        }
    }

    /// Writes as much of the queue as the socket takes.
    pub fn flush(&mut self) -> Result<(), String> {
        while self.wpos < self.wbuf.len() {
            let rest = &self.wbuf[self.wpos..];
            // SAFETY: pointer and length describe a live slice of `wbuf`; the fd is
            // owned by `stream`.
            let n = unsafe {
                libc::write(
                    self.stream.as_raw_fd(),
                    rest.as_ptr() as *const libc::c_void,
                    rest.len(),
                )
            };
            if n < 0 {
                match errno() {
                    libc::EAGAIN => return Ok(()),
                    libc::EINTR => continue,
                    _ => return Err(os_err("write to server failed")),
                }
            }
            self.wpos += n as usize;
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }

    /// Reads once into the buffer: None when nothing was available, else
    /// whether the read drained the socket (it filled less than the room it
    /// had; edge-triggered epoll then reports new data).
    pub fn fill(&mut self) -> Result<Option<bool>, String> {
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        }
        if self.rend == self.rbuf.len() {
            if self.rstart > 0 {
                self.rbuf.copy_within(self.rstart..self.rend, 0);
                self.rend -= self.rstart;
                self.rstart = 0;
            } else {
                // One reply larger than the buffer.
                let n = self.rbuf.len() * 2;
                self.rbuf.resize(n, 0);
            }
        }
        let space = self.rbuf.len() - self.rend;
        loop {
            // SAFETY: writes at most `space` bytes into the initialised `rbuf[rend..]`;
            // the fd is owned by `stream`.
            let n = unsafe {
                libc::read(
                    self.stream.as_raw_fd(),
                    self.rbuf.as_mut_ptr().add(self.rend) as *mut libc::c_void,
                    space,
                )
            };
            if n < 0 {
                match errno() {
                    libc::EAGAIN => return Ok(None),
                    libc::EINTR => continue,
                    _ => return Err(os_err("read from server failed")),
                }
            }
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.rend += n as usize;
            return Ok(Some((n as usize) < space));
        }
    }

    /// The next complete reply in the buffer, taken off it: where it starts
    /// in `rbuf`, and what it is.
    #[inline]
    pub fn next(&mut self) -> Result<Option<(usize, resp::Reply)>, String> {
        match resp::scan(&self.rbuf[self.rstart..self.rend]) {
            Ok(Some(r)) => {
                let at = self.rstart;
                self.rstart += r.len;
                Ok(Some((at, r)))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(format!("protocol error: {}", e.0)),
        }
    }
}
