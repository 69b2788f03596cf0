//! Listening sockets: one per core and address, sharing their port through
//! SO_REUSEPORT, so the kernel spreads new connections over the cores.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{IntoRawFd, RawFd};

/// Listening descriptors, by core.
pub type PerCoreListeners = Vec<Vec<RawFd>>;

/// Binds a listener per core on each of `binds` (addresses as in Redis's
/// `bind`, a leading `-` ignored) at `port` (0: a free port, the same for
/// all), with `backlog`. Returns each core's descriptors and the port.
/// Nothing stays bound when it fails.
pub fn bind_listeners(
    binds: &[&str],
    port: u16,
    cores: usize,
    backlog: i32,
) -> std::io::Result<(PerCoreListeners, u16)> {
    let mut port = port;
    let mut per_core: Vec<Vec<Socket>> = (0..cores).map(|_| Vec::new()).collect();
    for b in binds {
        let b = b.trim_start_matches('-');
        let host = if b.contains(':') && !b.starts_with('[') {
            format!("[{b}]")
        } else {
            b.to_string()
        };
        let addr: SocketAddr = format!("{host}:{port}")
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("cannot resolve bind address {b}")))?;
        if port != 0 {
            refuse_taken(addr)?;
        }
        for socks in per_core.iter_mut() {
            let mut a = addr;
            a.set_port(port);
            let sock = Socket::new(Domain::for_address(a), Type::STREAM, Some(Protocol::TCP))?;
            sock.set_reuse_address(true)?;
            sock.set_reuse_port(true)?;
            if a.is_ipv6() {
                sock.set_only_v6(true)?;
            }
            sock.bind(&a.into())?;
            sock.listen(backlog)?;
            if port == 0 {
                port = sock
                    .local_addr()?
                    .as_socket()
                    .map(|s| s.port())
                    .ok_or_else(|| std::io::Error::other("no local address"))?;
            }
            socks.push(sock);
        }
    }
    let fds = per_core
        .into_iter()
        .map(|socks| socks.into_iter().map(|s| s.into_raw_fd()).collect())
        .collect();
    Ok((fds, port))
}

/// Fails as Redis does when something already listens on `addr`. The
/// per-core listeners share their port through SO_REUSEPORT, which would
/// also let them join another process's listeners on it (another coreshard
/// started on the same port would silently take half the connections): a
/// probe socket without it finds the port taken first.
fn refuse_taken(addr: SocketAddr) -> std::io::Result<()> {
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    probe.set_reuse_address(true)?;
    if addr.is_ipv6() {
        probe.set_only_v6(true)?;
    }
    match probe.bind(&addr.into()) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(std::io::Error::new(
            e.kind(),
            format!(
                "Could not create server TCP listening socket {addr}: bind: Address already in use"
            ),
        )),
        Err(e) => Err(e),
        Ok(()) => Ok(()),
    }
}
