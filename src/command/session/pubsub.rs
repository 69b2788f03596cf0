//! Pub/Sub across cores: who is subscribed where, and how a message reaches
//! them.
//!
//! ```text
//!  core i: CorePubSub {
//!    local[kind]: name ─► this core's subscribed clients (by id)
//!    view[kind]:  name ─► [(core, subscribers there)]   (every core's, kept on each core)
//!  }                 kind: channel | pattern | shard channel
//!
//!  SUBSCRIBE c on core i: client set + local[c] + view[c][i] ─► send (c, i, n)
//!      to every other core, which sets its view[c][i] = n ─► all acknowledged
//!      ─► confirmations, then any message that arrived meanwhile ─► socket
//!  PUBLISH c m on core k: view[c] + every view pattern matching c
//!      ─► count (the reply) and the cores with receivers
//!      ─► each of those cores once: post(deliver(c, m)) ─► its local[c] and
//!         matching local patterns write the frame to each client's socket
//! ```
//!
//! **Counts.** Every core keeps the whole engine's view: for each channel,
//! pattern and shard channel, how many subscribers each core has. A change
//! to a core's count is sent to every other core, and the (un)subscribing
//! client is answered only once all of them have applied it, so PUBLISH,
//! PUBSUB NUMSUB/NUMPAT/CHANNELS and INFO read their figures from the local
//! view without a hop. PUBLISH's count is therefore exact for every
//! subscription that completed before it started; a subscription changing
//! while the message travels may receive it without being counted (or be
//! counted without receiving it), never anything else. The price is memory:
//! each core holds an entry per channel in use engine-wide.
//!
//! **Fan-out.** A message crosses to another core at most once, and only to
//! cores whose view entry (or a matching pattern's) says they have
//! receivers; a channel nobody subscribes to costs no hop. Posts from one
//! core to another run in the order they were sent, so the messages of one
//! publisher reach every subscriber in publish order.
//!
//! **Order on a connection.** A subscriber's messages that arrive while its
//! subscription is being confirmed are held and written after the
//! confirmation. Confirmations go to the socket at once with the replies
//! before them: they are pushes, sent even under CLIENT REPLY OFF, as in
//! Redis.
//!
//! **Slow subscribers.** Messages are written to the subscriber's socket
//! queue, so they count in its memory (`maxmemory-clients`, `used_memory`)
//! and against its `client-output-buffer-limit` class (`pubsub` while it is
//! subscribed), which disconnects it when passed.

use super::Session;
use super::clients::ClientHandle;
use crate::command::OwnedArgs;
use crate::command::session::SessionCore;
use crate::config::glob_match;
use crate::metrics;
use crate::protocol::Reply;
use crate::shard::Core;
use hashbrown::{HashMap, HashSet};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// What a subscription is to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A channel (SUBSCRIBE).
    Channel = 0,
    /// A glob pattern over channel names (PSUBSCRIBE).
    Pattern = 1,
    /// A shard channel (SSUBSCRIBE), served apart from plain channels.
    Shard = 2,
}

impl Kind {
    /// The first element of a subscription confirmation.
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    /// The first element of an unsubscription confirmation.
    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// One client's subscriptions, kept on its registry entry.
#[derive(Default)]
pub struct ClientSubs {
    channels: HashSet<Box<[u8]>>,
    /// In subscription order (PUNSUBSCRIBE without arguments answers in it).
    patterns: Vec<Box<[u8]>>,
    shard: HashSet<Box<[u8]>>,
    /// Messages that arrived while a subscription was being confirmed.
    held: Option<Vec<u8>>,
}

impl ClientSubs {
    fn contains(&self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.contains(name),
            Kind::Pattern => self.patterns.iter().any(|p| &**p == name),
            Kind::Shard => self.shard.contains(name),
        }
    }

    /// Adds a subscription; false when it was there already.
    fn insert(&mut self, kind: Kind, name: &[u8]) -> bool {
        if self.contains(kind, name) {
            return false;
        }
        match kind {
            Kind::Channel => self.channels.insert(name.into()),
            Kind::Pattern => {
                self.patterns.push(name.into());
                true
            }
            Kind::Shard => self.shard.insert(name.into()),
        }
    }

    /// Removes a subscription; false when there was none.
    fn remove(&mut self, kind: Kind, name: &[u8]) -> bool {
        match kind {
            Kind::Channel => self.channels.remove(name),
            Kind::Pattern => match self.patterns.iter().position(|p| &**p == name) {
                Some(i) => {
                    self.patterns.remove(i);
                    true
                }
                None => false,
            },
            Kind::Shard => self.shard.remove(name),
        }
    }

    /// Every subscription of one kind.
    fn names(&self, kind: Kind) -> Vec<Box<[u8]>> {
        match kind {
            Kind::Channel => self.channels.iter().cloned().collect(),
            Kind::Pattern => self.patterns.clone(),
            Kind::Shard => self.shard.iter().cloned().collect(),
        }
    }

    /// The count a confirmation of `kind` reports: channels and patterns
    /// together, shard channels on their own (as Redis counts them).
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shard.len(),
        }
    }
}

/// Subscribers per core of one name, as a core's view holds them: a short
/// list of `(core, count)` with no zero counts.
#[derive(Default, Debug)]
struct Interest(Vec<(u32, u32)>);

impl Interest {
    fn set(&mut self, core: u32, n: u32) {
        match self.0.iter().position(|e| e.0 == core) {
            Some(i) if n == 0 => {
                self.0.swap_remove(i);
            }
            Some(i) => self.0[i].1 = n,
            None if n > 0 => self.0.push((core, n)),
            None => {}
        }
    }

    fn total(&self) -> u64 {
        self.0.iter().map(|e| e.1 as u64).sum()
    }

    fn add_to(&self, total: &mut u64, cores: &mut CoreSet) {
        for &(core, n) in &self.0 {
            *total += n as u64;
            cores.insert(core as usize);
        }
    }
}

/// A set of core indexes (no allocation below 64 cores).
#[derive(Clone, Default)]
struct CoreSet {
    low: u64,
    high: Vec<u64>,
}

impl CoreSet {
    fn insert(&mut self, i: usize) {
        if i < 64 {
            self.low |= 1 << i;
        } else {
            let w = i / 64 - 1;
            if self.high.len() <= w {
                self.high.resize(w + 1, 0);
            }
            self.high[w] |= 1 << (i % 64);
        }
    }

    fn contains(&self, i: usize) -> bool {
        if i < 64 {
            self.low & (1 << i) != 0
        } else {
            self.high
                .get(i / 64 - 1)
                .is_some_and(|w| w & (1 << (i % 64)) != 0)
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.low)
            .chain(self.high.iter().copied())
            .enumerate()
            .flat_map(|(w, bits)| {
                (0..64)
                    .filter(move |b| bits & (1 << b) != 0)
                    .map(move |b| w * 64 + b)
            })
    }
}

/// A new subscriber count of one core for one name, sent to the other cores.
type Update = (Kind, Box<[u8]>, u32);

/// The clients of one core subscribed to one name, by id.
type Subscribers = HashMap<u64, Rc<ClientHandle>>;

/// This core's pub/sub state: its own subscribers and its copy of the
/// engine-wide view (see the module docs).
#[derive(Default)]
pub struct CorePubSub {
    local: [HashMap<Box<[u8]>, Subscribers>; 3],
    view: [HashMap<Box<[u8]>, Interest>; 3],
    /// The receivers last found for a plain channel while patterns are
    /// subscribed (matching the channel against every one of them is most
    /// of the work): the channel, their number and their cores. Every
    /// change of the view clears it.
    last: RefCell<Option<Found>>,
}

/// Receivers found for a channel: the channel, their number and cores.
type Found = (Box<[u8]>, u64, CoreSet);

fn set_view(view: &mut HashMap<Box<[u8]>, Interest>, name: &[u8], core: u32, n: u32) {
    match view.get_mut(name) {
        Some(e) => {
            e.set(core, n);
            if e.0.is_empty() {
                view.remove(name);
            }
        }
        None if n > 0 => {
            let mut e = Interest::default();
            e.set(core, n);
            view.insert(name.into(), e);
        }
        None => {}
    }
}

impl CorePubSub {
    /// Registers client `h` of core `me` under `name`; the change to send.
    fn add_local(&mut self, me: usize, kind: Kind, name: &[u8], h: &Rc<ClientHandle>) -> Update {
        let id = h.info.borrow().id;
        let local = &mut self.local[kind as usize];
        let n = match local.get_mut(name) {
            Some(subs) => {
                subs.insert(id, h.clone());
                subs.len()
            }
            None => {
                let mut subs = HashMap::new();
                subs.insert(id, h.clone());
                local.insert(name.into(), subs);
                1
            }
        };
        set_view(&mut self.view[kind as usize], name, me as u32, n as u32);
        *self.last.get_mut() = None;
        (kind, name.into(), n as u32)
    }

    /// Unregisters client `id` of core `me` from `name`; the change to send.
    fn remove_local(&mut self, me: usize, kind: Kind, name: &[u8], id: u64) -> Update {
        let local = &mut self.local[kind as usize];
        let n = match local.get_mut(name) {
            Some(subs) => {
                subs.remove(&id);
                let n = subs.len();
                if n == 0 {
                    local.remove(name);
                }
                n
            }
            None => 0,
        };
        set_view(&mut self.view[kind as usize], name, me as u32, n as u32);
        *self.last.get_mut() = None;
        (kind, name.into(), n as u32)
    }

    /// Applies core `from`'s changes to this core's view.
    fn apply(&mut self, from: usize, updates: &[Update]) {
        for (kind, name, n) in updates {
            set_view(&mut self.view[*kind as usize], name, from as u32, *n);
        }
        *self.last.get_mut() = None;
    }

    /// Receivers of a message on `channel` (a plain or a shard channel) in
    /// the whole engine, and the cores they are on.
    fn receivers(&self, kind: Kind, channel: &[u8]) -> (u64, CoreSet) {
        let patterns = kind == Kind::Channel && !self.view[Kind::Pattern as usize].is_empty();
        if patterns
            && let Some((c, total, cores)) = &*self.last.borrow()
            && **c == *channel
        {
            return (*total, cores.clone());
        }
        let mut total = 0;
        let mut cores = CoreSet::default();
        if let Some(e) = self.view[kind as usize].get(channel) {
            e.add_to(&mut total, &mut cores);
        }
        if patterns {
            for (p, e) in &self.view[Kind::Pattern as usize] {
                if glob_match(p, channel, false) {
                    e.add_to(&mut total, &mut cores);
                }
            }
            *self.last.borrow_mut() = Some((channel.into(), total, cores.clone()));
        }
        (total, cores)
    }

    /// Channels (or shard channels) with subscribers anywhere, those
    /// matching `pattern` when one is given (PUBSUB CHANNELS).
    pub fn active(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        self.view[kind as usize]
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of `name` on every core (PUBSUB NUMSUB, SHARDNUMSUB).
    pub fn numsub(&self, kind: Kind, name: &[u8]) -> u64 {
        self.view[kind as usize]
            .get(name)
            .map_or(0, Interest::total)
    }

    /// Distinct channels, patterns and shard channels with subscribers
    /// anywhere (INFO `pubsub_channels`, `pubsub_patterns`,
    /// `pubsubshard_channels`; PUBSUB NUMPAT).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.view[0].len(), self.view[1].len(), self.view[2].len())
    }
}

/// Sends this core's changes to every other core and waits until all have
/// applied them.
async fn share(core: &Rc<Core>, updates: Vec<Update>) {
    if updates.is_empty() || core.ncores == 1 {
        return;
    }
    let updates = Arc::new(updates);
    let from = core.id;
    let acks: Vec<_> = (0..core.ncores)
        .filter(|&t| t != from)
        .map(|t| {
            let u = updates.clone();
            core.send_on(t, move |c| c.pubsub().borrow_mut().apply(from, &u))
        })
        .collect();
    futures::future::join_all(acks).await;
}

/// Copies a client's subscription counts to what CLIENT LIST shows and to
/// the connection's mode.
fn sync_counts(c: &mut Session) {
    let (sub, psub, ssub) = {
        let s = c.handle.subs.borrow();
        (s.channels.len(), s.patterns.len(), s.shard.len())
    };
    let mut i = c.handle.info.borrow_mut();
    i.sub = sub;
    i.psub = psub;
    i.ssub = ssub;
    c.subscribed = sub + psub + ssub > 0;
}

/// Hands the connection's output (replies so far, then the confirmations
/// just written) to the socket now, ahead of any later message.
fn flush_to_socket(c: &mut Session) {
    if c.out.is_empty() {
        return;
    }
    metrics::with(|s| s.net_output_bytes += c.out.len() as u64);
    c.handle.socket.write(&mut c.out);
    super::clients::enforce_output_limit(&c.core, &c.handle);
}

/// `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE`: subscribes to every name in
/// `args[1..]` and confirms each with the client's running count.
pub async fn subscribe(c: &mut Session, kind: Kind, args: &OwnedArgs) {
    let core = c.core.clone();
    let h = c.handle.clone();
    {
        let mut s = h.subs.borrow_mut();
        if s.held.is_none() {
            s.held = Some(Vec::new());
        }
    }
    let mut updates = Vec::new();
    let mut counts = Vec::with_capacity(args.len());
    for i in 1..args.len() {
        let name = args.get(i);
        let added = h.subs.borrow_mut().insert(kind, name);
        if added {
            let u = core
                .pubsub()
                .borrow_mut()
                .add_local(core.id, kind, name, &h);
            updates.push(u);
        }
        counts.push(h.subs.borrow().count(kind));
    }
    sync_counts(c);
    share(&core, updates).await;
    let mut r = Reply::new(&mut c.out, c.resp3);
    for (i, n) in (1..).zip(counts) {
        r.push(3);
        r.bulk(kind.subscribe_word());
        r.bulk(args.get(i));
        r.int(n as i64);
    }
    if let Some(held) = h.subs.borrow_mut().held.take() {
        c.out.extend_from_slice(&held);
    }
    flush_to_socket(c);
}

/// `UNSUBSCRIBE`, `PUNSUBSCRIBE`, `SUNSUBSCRIBE`: unsubscribes from every
/// name in `args[1..]`, or from all of that kind without names, and
/// confirms each; with nothing to leave, one confirmation with a null name.
pub async fn unsubscribe(c: &mut Session, kind: Kind, args: &OwnedArgs) {
    let core = c.core.clone();
    let h = c.handle.clone();
    let id = c.id;
    let names: Vec<Box<[u8]>> = if args.len() > 1 {
        (1..args.len()).map(|i| args.get(i).into()).collect()
    } else {
        h.subs.borrow().names(kind)
    };
    let mut updates = Vec::new();
    let mut confirmations: Vec<(Option<Box<[u8]>>, usize)> = Vec::with_capacity(names.len());
    for name in names {
        let removed = h.subs.borrow_mut().remove(kind, &name);
        if removed {
            let u = core
                .pubsub()
                .borrow_mut()
                .remove_local(core.id, kind, &name, id);
            updates.push(u);
        }
        confirmations.push((Some(name), h.subs.borrow().count(kind)));
    }
    if confirmations.is_empty() {
        confirmations.push((None, h.subs.borrow().count(kind)));
    }
    sync_counts(c);
    share(&core, updates).await;
    let mut r = Reply::new(&mut c.out, c.resp3);
    for (name, n) in confirmations {
        r.push(3);
        r.bulk(kind.unsubscribe_word());
        r.opt_bulk(name.as_deref());
        r.int(n as i64);
    }
    flush_to_socket(c);
}

/// Drops every subscription of the connection without confirmations
/// (RESET, and the connection's end).
pub async fn forget(c: &mut Session) {
    if !c.subscribed && c.handle.subs.borrow().held.is_none() {
        return;
    }
    let core = c.core.clone();
    let h = c.handle.clone();
    let id = c.id;
    let mut updates = Vec::new();
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        let names = h.subs.borrow().names(kind);
        for name in names {
            h.subs.borrow_mut().remove(kind, &name);
            updates.push(
                core.pubsub()
                    .borrow_mut()
                    .remove_local(core.id, kind, &name, id),
            );
        }
    }
    h.subs.borrow_mut().held = None;
    sync_counts(c);
    share(&core, updates).await;
}

/// PUBLISH or SPUBLISH that nothing else of its client waits behind (see
/// `CommandSpec::conn`): each other core with receivers delivers the message
/// and answers how many received it, and the count is their sum. It is then
/// exact even against a subscription change its core has run but not yet
/// shared (an UNSUBSCRIBE sent just before, on another connection). With no
/// receivers elsewhere it is [`publish`].
pub async fn publish_counted(c: &mut Session, kind: Kind, channel: &[u8], payload: &[u8]) -> u64 {
    let core = c.core.clone();
    let (count, cores) = core.pubsub().borrow().receivers(kind, channel);
    if count == 0 || !cores.iter().any(|t| t != core.id) {
        return publish_found(c, kind, channel, payload, (count, cores));
    }
    let msg = Arc::new(Message {
        kind,
        channel: channel.into(),
        payload: payload.into(),
    });
    let counts: Vec<_> = cores
        .iter()
        .filter(|&t| t != core.id)
        .map(|t| {
            let m = msg.clone();
            core.send_on(t, move |cc| deliver(cc, &m))
        })
        .collect();
    let mut n = 0;
    if cores.contains(core.id) {
        if c.reply_mode == super::ReplyMode::On {
            flush_to_socket(c);
        }
        n += deliver(&core, &msg);
    }
    for count in counts {
        n += count.await;
    }
    n
}

/// A published message on its way to the cores with receivers.
struct Message {
    kind: Kind,
    channel: Box<[u8]>,
    payload: Box<[u8]>,
}

/// `PUBLISH` (`Kind::Channel`) and `SPUBLISH` (`Kind::Shard`): delivers the
/// message on this core and posts it once to each other core with
/// receivers; returns the number of receivers in the engine.
pub fn publish(c: &mut Session, kind: Kind, channel: &[u8], payload: &[u8]) -> u64 {
    let receivers = c.core.pubsub().borrow().receivers(kind, channel);
    publish_found(c, kind, channel, payload, receivers)
}

/// [`publish`] to the receivers found already: their number and cores.
fn publish_found(
    c: &mut Session,
    kind: Kind,
    channel: &[u8],
    payload: &[u8],
    receivers: (u64, CoreSet),
) -> u64 {
    let core = c.core.clone();
    publish_to(&core, kind, channel, payload, receivers, || {
        // The publisher may be a receiver: its earlier replies go first.
        if c.reply_mode == super::ReplyMode::On {
            flush_to_socket(c);
        }
    })
}

/// Publishes from core `core` to the receivers found already (their number
/// and cores): posts the message once to each other core with receivers
/// and delivers it here (after `before_local`) when this core has some;
/// the number of receivers in the engine.
fn publish_to(
    core: &Rc<Core>,
    kind: Kind,
    channel: &[u8],
    payload: &[u8],
    (count, cores): (u64, CoreSet),
    before_local: impl FnOnce(),
) -> u64 {
    if count == 0 {
        return 0;
    }
    let msg = Arc::new(Message {
        kind,
        channel: channel.into(),
        payload: payload.into(),
    });
    for t in cores.iter().filter(|&t| t != core.id) {
        let m = msg.clone();
        core.post(t, move |c| {
            deliver(c, &m);
        });
    }
    if cores.contains(core.id) {
        before_local();
        deliver(core, &msg);
    }
    count
}

/// Publishes the keyspace notifications the keyspace of this core raised
/// (see [`crate::storage::notify`]), in the order they happened.
#[inline]
pub fn flush_notifications(core: &Rc<Core>) {
    if !crate::storage::notify::pending() {
        return;
    }
    for e in crate::storage::notify::take() {
        for (channel, payload) in e.messages() {
            let receivers = core.pubsub().borrow().receivers(Kind::Channel, &channel);
            publish_to(core, Kind::Channel, &channel, &payload, receivers, || {});
        }
    }
}

/// A message frame in each protocol, built on first use.
#[derive(Default)]
struct Frames([Option<Vec<u8>>; 2]);

impl Frames {
    fn get(&mut self, resp3: bool, parts: &[&[u8]]) -> &[u8] {
        self.0[resp3 as usize].get_or_insert_with(|| {
            let len: usize = parts.iter().map(|p| p.len() + 16).sum();
            let mut v = Vec::with_capacity(len + 4);
            let mut r = Reply::new(&mut v, resp3);
            r.push(parts.len());
            for p in parts {
                r.bulk(p);
            }
            v
        })
    }
}

/// Writes `msg` to this core's subscribers of its channel and of every
/// local pattern matching it; the number of receivers (a client counts
/// once per subscription that matched, as Redis counts them).
fn deliver(core: &Rc<Core>, msg: &Message) -> u64 {
    let ps = core.pubsub().borrow();
    let mut bytes = 0;
    let mut receivers = 0u64;
    if let Some(subs) = ps.local[msg.kind as usize].get(&msg.channel) {
        let word: &[u8] = if msg.kind == Kind::Shard {
            b"smessage"
        } else {
            b"message"
        };
        let mut frames = Frames::default();
        for h in subs.values() {
            let resp3 = h.info.borrow().resp == 3;
            receivers += 1;
            bytes += send(
                core,
                h,
                frames.get(resp3, &[word, &msg.channel, &msg.payload]),
            );
        }
    }
    if msg.kind == Kind::Channel {
        for (pattern, subs) in &ps.local[Kind::Pattern as usize] {
            if !glob_match(pattern, &msg.channel, false) {
                continue;
            }
            let mut frames = Frames::default();
            for h in subs.values() {
                let resp3 = h.info.borrow().resp == 3;
                let parts: [&[u8]; 4] = [b"pmessage", pattern, &msg.channel, &msg.payload];
                receivers += 1;
                bytes += send(core, h, frames.get(resp3, &parts));
            }
        }
    }
    if bytes > 0 {
        metrics::with(|s| s.net_output_bytes += bytes as u64);
    }
    receivers
}

/// Queues one frame for a subscriber (held while its subscription is being
/// confirmed) and applies its output limit and memory accounting; returns
/// the bytes queued on its socket.
pub(super) fn send(core: &Core, h: &ClientHandle, frame: &[u8]) -> usize {
    if h.killed.get() {
        return 0;
    }
    if let Some(held) = h.subs.borrow_mut().held.as_mut() {
        held.extend_from_slice(frame);
        return 0;
    }
    h.socket.write_bytes(frame);
    if !super::clients::enforce_output_limit(core, h) {
        super::clients::note_client_memory(core, h);
    }
    frame.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_sets() {
        let mut s = CoreSet::default();
        for i in [0, 3, 63, 64, 130] {
            s.insert(i);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 3, 63, 64, 130]);
        assert!(s.contains(130) && s.contains(63) && !s.contains(1) && !s.contains(200));
    }

    #[test]
    fn views_count_every_core() {
        let mut a = CorePubSub::default();
        a.apply(1, &[(Kind::Channel, b"news".as_slice().into(), 2)]);
        a.apply(2, &[(Kind::Channel, b"news".as_slice().into(), 1)]);
        a.apply(2, &[(Kind::Pattern, b"n*".as_slice().into(), 3)]);
        a.apply(1, &[(Kind::Shard, b"news".as_slice().into(), 5)]);
        let (n, cores) = a.receivers(Kind::Channel, b"news");
        assert_eq!(n, 6);
        assert_eq!(cores.iter().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(a.receivers(Kind::Shard, b"news").0, 5);
        assert_eq!(a.receivers(Kind::Channel, b"other").0, 0);
        // Found again (from the last lookup), and again after a change.
        assert_eq!(a.receivers(Kind::Channel, b"news").0, 6);
        a.apply(1, &[(Kind::Pattern, b"*s".as_slice().into(), 4)]);
        let (n, cores) = a.receivers(Kind::Channel, b"news");
        assert_eq!((n, cores.iter().collect::<Vec<_>>()), (10, vec![1, 2]));
        assert_eq!(a.receivers(Kind::Channel, b"nope").0, 3);
        a.apply(1, &[(Kind::Pattern, b"*s".as_slice().into(), 0)]);
        assert_eq!(a.receivers(Kind::Channel, b"news").0, 6);
        assert_eq!(a.numsub(Kind::Channel, b"news"), 3);
        assert_eq!(a.sizes(), (1, 1, 1));
        a.apply(1, &[(Kind::Channel, b"news".as_slice().into(), 0)]);
        a.apply(2, &[(Kind::Channel, b"news".as_slice().into(), 0)]);
        assert_eq!(a.sizes(), (0, 1, 1));
        assert_eq!(a.active(Kind::Channel, None).len(), 0);
        assert_eq!(a.active(Kind::Shard, Some(b"n?ws")).len(), 1);
    }

    #[test]
    fn client_counts() {
        let mut s = ClientSubs::default();
        assert!(s.insert(Kind::Channel, b"a"));
        assert!(!s.insert(Kind::Channel, b"a"));
        assert!(s.insert(Kind::Pattern, b"p*"));
        assert!(s.insert(Kind::Pattern, b"q*"));
        assert!(s.insert(Kind::Shard, b"a"));
        assert_eq!(s.count(Kind::Channel), 3);
        assert_eq!(s.count(Kind::Shard), 1);
        assert_eq!(
            s.names(Kind::Pattern),
            vec![b"p*".as_slice().into(), b"q*".as_slice().into()] as Vec<Box<[u8]>>
        );
        assert!(s.remove(Kind::Pattern, b"p*"));
        assert!(!s.remove(Kind::Pattern, b"p*"));
        assert_eq!(s.count(Kind::Pattern), 2);
    }
}
