//! MULTI/EXEC/DISCARD and WATCH: a client's queued transaction and its
//! optimistic locks.
//!
//! ```text
//!  MULTI ─► later commands are checked (name, arity, auth) and queued: +QUEUED;
//!           a rejected one makes EXEC fail with EXECABORT
//!  EXEC  ─► every key (queued and WATCHed) on one shard: one job on that shard
//!           checks the WATCHes and runs every command; nothing interleaves,
//!           and blocked clients are served only after the last command
//!        ─► otherwise every key of the transaction and every WATCHed key is
//!           locked on its shard (crate::shard::txn), the WATCHes are checked,
//!           the commands run in order, and the locks are released: isolated
//!  WATCH ─► registered in the key's database on its shard; a write, expiry,
//!           FLUSHDB or SWAPDB touching the key raises the client's flag
//! ```
//!
//! Blocking commands inside a transaction never block: they answer as if
//! their timeout had passed, as Redis's do.

use super::Session;
use super::dispatch::{command_lock_keys, exec_shard, whole_lock};
use crate::command::{CommandSpec, Ctx, OwnedArgs, flags};
use crate::shard::txn::{self, LockKey, Mode};
use crate::shard::{EngineState, group_by_owner};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    /// Queued commands (nothing is kept once the transaction is aborted).
    pub cmds: Vec<(&'static CommandSpec, OwnedArgs)>,
    /// A command was rejected while queueing: EXEC answers EXECABORT.
    pub aborted: bool,
    /// Union of the queued commands' flags (CLIENT PAUSE WRITE holds EXEC).
    pub flags: u64,
}

/// A key in one database.
pub type DbKey = (usize, Vec<u8>);

/// The client's WATCHed keys and the flag shards raise when one changes.
#[derive(Default)]
pub struct Watched {
    /// (database, key), each once.
    pub keys: Vec<DbKey>,
    /// Raised by the shards; EXEC fails when set.
    pub dirty: Arc<AtomicBool>,
}

/// Commands that run at once even inside MULTI.
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

impl Session {
    /// True between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Queues a command of the open transaction.
    pub fn queue_multi(&mut self, spec: &'static CommandSpec, args: crate::protocol::Args<'_>) {
        // A script's declared flags count, as Redis sums them for EXEC.
        let run_flags = crate::command::scripting::flags::run_flags(&self.core.engine, spec, args);
        if let Some(m) = &mut self.multi {
            if !m.aborted {
                m.cmds.push((spec, OwnedArgs::from_args(args)));
                m.flags |= run_flags;
            }
            self.handle.info.borrow_mut().multi = m.cmds.len() as i64;
        }
        self.reply().simple("QUEUED");
    }

    /// A command was rejected: the open transaction (if any) cannot run.
    pub fn flag_transaction(&mut self) {
        if let Some(m) = &mut self.multi {
            m.aborted = true;
        }
    }

    /// True when the open transaction holds a command that writes (or may
    /// replicate), for CLIENT PAUSE WRITE.
    pub fn multi_writes(&self) -> bool {
        self.multi
            .as_ref()
            .is_some_and(|m| m.flags & (flags::WRITE | flags::MAY_REPLICATE) != 0)
    }

    /// `MULTI`
    pub fn begin_multi(&mut self) {
        if self.multi.is_some() {
            return self.error("ERR MULTI calls can not be nested");
        }
        self.multi = Some(Multi::default());
        self.handle.info.borrow_mut().multi = 0;
        self.reply().ok();
    }

    /// Ends the transaction state without running it.
    fn end_multi(&mut self) -> Option<Multi> {
        self.handle.info.borrow_mut().multi = -1;
        self.multi.take()
    }

    /// `DISCARD`
    pub async fn discard(&mut self) {
        if self.end_multi().is_none() {
            return self.error("ERR DISCARD without MULTI");
        }
        self.unwatch_all().await;
        self.reply().ok();
    }

    /// `WATCH key [key ...]`
    pub async fn watch(&mut self, keys: Vec<Vec<u8>>) {
        if self.multi.is_some() {
            return self.error("ERR WATCH inside MULTI is not allowed");
        }
        // Already doomed: nothing to gain from watching more.
        if self.watched.dirty.load(Ordering::Acquire) {
            return self.reply().ok();
        }
        let db = self.db;
        let mut new = Vec::new();
        for k in keys {
            if !self.watched.keys.iter().any(|(d, w)| *d == db && *w == k) {
                self.watched.keys.push((db, k.clone()));
                new.push(k);
            }
        }
        let groups = group_by_owner(new, |k| self.owner(k));
        let id = self.id;
        let futs = groups.into_iter().map(|(t, keys)| {
            let dirty = self.watched.dirty.clone();
            let engine = self.core.engine.clone();
            self.on_shard(t, move |ctx| {
                let now = ctx.now;
                let d = ctx.db();
                let added = keys
                    .iter()
                    .filter(|k| d.cas_watch(k, id, dirty.clone(), now))
                    .count();
                engine.cas_watches.fetch_add(added, Ordering::Relaxed);
            })
        });
        futures::future::join_all(futs).await;
        self.reply().ok();
    }

    /// Drops every WATCH of this client (UNWATCH, EXEC, DISCARD, RESET, close).
    /// Returns true when one of them had changed, by a write or by expiring.
    pub async fn unwatch_all(&mut self) -> bool {
        let keys = std::mem::take(&mut self.watched.keys);
        let mut changed = false;
        if !keys.is_empty() {
            let id = self.id;
            let groups = group_by_owner(keys, |(_, k)| self.owner(k));
            let futs = groups.into_iter().map(|(t, keys)| {
                let engine = self.core.engine.clone();
                self.on_shard(t, move |ctx| release_watches(ctx, &engine, &keys, id))
            });
            changed = futures::future::join_all(futs).await.into_iter().any(|x| x);
        }
        changed | self.watched.dirty.swap(false, Ordering::AcqRel)
    }

    /// `EXEC`
    pub async fn exec(&mut self) {
        // CLIENT LIST keeps showing the transaction while it runs, as in Redis.
        let Some(m) = self.multi.take() else {
            return self.error("ERR EXEC without MULTI");
        };
        if m.aborted {
            self.end_multi();
            self.unwatch_all().await;
            return self.error("EXECABORT Transaction discarded because of previous errors.");
        }
        match self.single_shard(&m.cmds) {
            Some(t) => self.exec_on_shard(t, m.cmds).await,
            None => self.exec_in_order(m.cmds).await,
        }
        self.end_multi();
    }

    /// The one shard owning every key of the transaction and every WATCHed
    /// key, when there is one and every command can run as a shard command.
    fn single_shard(&self, cmds: &[(&'static CommandSpec, OwnedArgs)]) -> Option<usize> {
        if self.nshards() == 1 {
            return cmds.iter().all(|(s, _)| s.shard.is_some()).then_some(0);
        }
        let mut target: Option<usize> = None;
        let mut same = |owner: usize| match target {
            None => {
                target = Some(owner);
                true
            }
            Some(t) => t == owner,
        };
        let mut idx = Vec::new();
        for (spec, args) in cmds {
            spec.shard?;
            let a = args.args();
            spec.key_indexes(a, &mut idx);
            if !idx.iter().all(|&i| same(self.owner(a.get(i)))) {
                return None;
            }
        }
        if !self.watched.keys.iter().all(|(_, k)| same(self.owner(k))) {
            return None;
        }
        Some(target.unwrap_or(self.core.id))
    }

    /// Every key of the queued commands (in the mode each needs) and every
    /// WATCHed key (shared).
    fn transaction_keys(
        &self,
        cmds: &[(&'static CommandSpec, OwnedArgs)],
    ) -> Vec<(usize, LockKey)> {
        let n = self.nshards();
        let mut keys = Vec::new();
        for (spec, args) in cmds {
            command_lock_keys(spec, args.args(), n, &mut keys);
        }
        keys.extend(
            self.watched
                .keys
                .iter()
                .map(|(_, k)| (self.owner(k), (txn::lock_key(k), Mode::Shared))),
        );
        keys
    }

    /// Checks the WATCHes and runs the whole transaction in one job on shard
    /// `t`, once no multi-shard transaction holds one of its keys there:
    /// atomic and isolated.
    async fn exec_on_shard(&mut self, t: usize, cmds: Vec<(&'static CommandSpec, OwnedArgs)>) {
        let keys = txn::dedup(
            self.transaction_keys(&cmds)
                .into_iter()
                .map(|(_, k)| k)
                .collect(),
        );
        let watched = std::mem::take(&mut self.watched.keys);
        let dirty = self.watched.dirty.clone();
        let (db, resp3, no_touch, id) = (self.db, self.resp3, self.no_touch, self.id);
        let n = cmds.len();
        let run = move |c: &std::rc::Rc<crate::shard::Core>| {
            let mut shard = c.shard.borrow_mut();
            let now = crate::now_ms();
            let mut ctx = Ctx {
                shard: &mut shard,
                db,
                now,
                no_touch,
            };
            let changed = release_watches(&mut ctx, &c.engine, &watched, id);
            if changed || dirty.load(Ordering::Acquire) {
                return None;
            }
            let mut out = Vec::with_capacity(16 * cmds.len());
            for (spec, args) in &cmds {
                exec_shard(spec, &mut ctx, &mut out, resp3, args.args());
            }
            drop(shard);
            super::blocking::after_shard_work(c);
            Some((out, cmds))
        };
        let out = self
            .core
            .run_deferred(t, move |c, resp| {
                txn::when_free(
                    c,
                    0,
                    txn::Want::Keys(keys),
                    Box::new(move |c: &std::rc::Rc<crate::shard::Core>| {
                        let r = run(c);
                        resp.send(c, r)
                    }),
                )
            })
            .await;
        self.watched.dirty.store(false, Ordering::Release);
        self.set_now();
        match out {
            None => self.reply().null_array(),
            Some((bytes, cmds)) => {
                for (spec, args) in &cmds {
                    self.feed_command(spec, args.args());
                }
                self.reply().array(n);
                self.out.extend_from_slice(&bytes);
            }
        }
    }

    /// A transaction spanning shards (or with commands that coordinate):
    /// every key it names and every WATCHed key is locked on its shard (see
    /// [`crate::shard::txn`]); then the WATCHes are checked and each command
    /// runs in order as it would alone, under those locks.
    async fn exec_in_order(&mut self, cmds: Vec<(&'static CommandSpec, OwnedArgs)>) {
        let outer = self.txid;
        let held = if outer == 0 {
            let keys = self.transaction_keys(&cmds);
            let whole = cmds
                .iter()
                .filter_map(|(spec, args)| whole_lock(spec, args.args()))
                .max();
            self.lock_keys(keys, whole).await
        } else {
            None
        };
        if let Some(h) = &held {
            self.txid = h.tx();
        }
        if self.unwatch_all().await {
            self.txid = outer;
            return self.reply().null_array();
        }
        self.reply().array(cmds.len());
        self.deny_blocking = true;
        for (spec, args) in &cmds {
            self.feed_command(spec, args.args());
            self.route(spec, args.args()).await;
        }
        self.flush_pending().await;
        self.deny_blocking = false;
        self.txid = outer;
        drop(held);
    }
}

/// Drops `client`'s WATCHes on these keys of this shard; true when one was
/// watched while live and has expired since.
fn release_watches(ctx: &mut Ctx<'_>, engine: &EngineState, keys: &[DbKey], client: u64) -> bool {
    let now = ctx.now;
    let mut expired = false;
    let mut removed = 0;
    for (dbi, k) in keys {
        if let Some(d) = ctx.shard.db_opt_mut(*dbi) {
            expired |= d.cas_expired(k, client, now);
            removed += d.cas_unwatch(k, client);
        }
    }
    engine.cas_watches.fetch_sub(removed, Ordering::Relaxed);
    expired
}
