//! SORT and SORT_RO.
//!
//! ```text
//!  parse options ─► hop: elements of the source (list/set/zset) ─► BY lookups
//!  (one hop per shard holding pattern keys) ─► sort ─► LIMIT ─► GET lookups
//!  (same) ─► reply, or STORE on the destination's shard
//! ```
//!
//! Standalone Redis semantics: BY and GET patterns may name keys on any shard
//! (the coordinator fetches them), so no hash tags are needed. The order of
//! equal elements, the handling of missing BY keys (score 0, or first when
//! ALPHA), LIMIT clamping and the forced ALPHA order of a set stored without
//! a sort follow Redis 7.0's sort.c.

use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*};
use crate::command::session::Session;
use crate::storage::Value;
use crate::storage::list::{End, Fill, List};
use crate::storage::notify;
use std::cmp::Ordering;

/// Parsed SORT options.
struct SortReq {
    by: Option<Vec<u8>>,
    dontsort: bool,
    start: i64,
    count: i64,
    gets: Vec<Vec<u8>>,
    desc: bool,
    alpha: bool,
    store: Option<Vec<u8>>,
}

fn parse(a: &OwnedArgs, readonly: bool) -> Result<SortReq, &'static str> {
    let mut r = SortReq {
        by: None,
        dontsort: false,
        start: 0,
        count: -1,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let n = a.len();
    let mut j = 2;
    while j < n {
        let left = n - j - 1;
        let o = a.get(j);
        if eq(o, "asc") {
            r.desc = false;
        } else if eq(o, "desc") {
            r.desc = true;
        } else if eq(o, "alpha") {
            r.alpha = true;
        } else if eq(o, "limit") && left >= 2 {
            r.start = parse_i64(a.get(j + 1)).ok_or(NOT_INT)?;
            r.count = parse_i64(a.get(j + 2)).ok_or(NOT_INT)?;
            j += 2;
        } else if eq(o, "store") && left >= 1 && !readonly {
            r.store = Some(a.get(j + 1).to_vec());
            j += 1;
        } else if eq(o, "by") && left >= 1 {
            let p = a.get(j + 1).to_vec();
            // BY with no '*' (e.g. BY nosort) means: do not sort.
            if !p.contains(&b'*') {
                r.dontsort = true;
            }
            r.by = Some(p);
            j += 1;
        } else if eq(o, "get") && left >= 1 {
            r.gets.push(a.get(j + 1).to_vec());
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(r)
}

/// The source's elements in native order and whether it is a set.
enum Source {
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<Vec<u8>>),
}

fn read_source(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Source, ()> {
    let Some(e) = super::string::lookup_read(ctx, key) else {
        return Ok(Source::List(Vec::new()));
    };
    match &e.value {
        Value::List(l) => Ok(Source::List(l.to_vec())),
        Value::Set(s) => Ok(Source::Set(s.iter().map(|m| m.to_vec()).collect())),
        Value::ZSet(z) => Ok(Source::ZSet(zset_members(z))),
        _ => Err(()),
    }
}

fn zset_members(z: &crate::storage::zset::ZSet) -> Vec<Vec<u8>> {
    z.collect_ranks(0, z.len(), false)
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

/// `(key, field)` that `pattern` names for `elem` (Redis's
/// lookupKeyByPattern); `None` when the pattern has no `*`.
fn pattern_key(pattern: &[u8], elem: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    // C string semantics: the pattern ends at its first NUL.
    let pattern = &pattern[..pattern
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(pattern.len())];
    let star = pattern.iter().position(|&b| b == b'*')?;
    let rest = &pattern[star + 1..];
    let arrow = rest
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&i| i + 2 < rest.len());
    let (post, field) = match arrow {
        Some(i) => (&rest[..i], Some(rest[i + 2..].to_vec())),
        None => (rest, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    Some((key, field))
}

/// One pattern lookup: element index, key, optional hash field.
type Lookup = (usize, Vec<u8>, Option<Vec<u8>>);

/// Looks `pattern` up for every element (GET # returns the element itself);
/// one hop per shard holding any of the keys.
async fn lookup_all(c: &Session, pattern: &[u8], elems: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
    let mut out: Vec<Option<Vec<u8>>> = vec![None; elems.len()];
    if pattern == b"#" {
        for (o, e) in out.iter_mut().zip(elems) {
            *o = Some(e.clone());
        }
        return out;
    }
    let mut by_shard: Vec<Vec<Lookup>> = vec![Vec::new(); c.nshards()];
    for (i, e) in elems.iter().enumerate() {
        if let Some((k, f)) = pattern_key(pattern, e) {
            by_shard[c.owner(&k)].push((i, k, f));
        }
    }
    let futs = by_shard
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, reqs)| {
            c.on_shard(s, move |ctx| {
                let now = ctx.now;
                let dbi = ctx.db;
                let db = ctx.db();
                reqs.into_iter()
                    .map(|(i, k, f)| {
                        // A read lookup, as Redis's lookupKeyByPattern: counted
                        // as a keyspace hit or miss (`keymiss`).
                        let e = db.get(&k, now);
                        super::string::read_counted(dbi, &k, e.is_some());
                        let v = e.and_then(|e| match (&e.value, &f) {
                            (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
                            (v, None) => v.as_str().map(|s| s.to_vec()),
                            _ => None,
                        });
                        (i, v)
                    })
                    .collect::<Vec<_>>()
            })
        });
    for part in futures::future::join_all(futs).await {
        for (i, v) in part {
            out[i] = v;
        }
    }
    out
}

fn sort_generic(c: &mut Session, a: OwnedArgs, readonly: bool) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let mut req = match parse(&a, readonly) {
            Ok(r) => r,
            Err(e) => return c.error(e),
        };
        let key = a.get(1).to_vec();
        let k2 = key.clone();
        let src = match c.on_key(&key, move |ctx| read_source(ctx, &k2)).await {
            Ok(s) => s,
            Err(()) => return c.error(WRONGTYPE),
        };
        let is_set = matches!(src, Source::Set(_));
        let mut elems = match src {
            Source::List(v) | Source::Set(v) | Source::ZSet(v) => v,
        };
        // A set has no order of its own: stored results, and results a
        // script reads, are sorted (ALPHA).
        if req.dontsort && is_set && (req.store.is_some() || c.in_script) {
            req.dontsort = false;
            req.alpha = true;
            req.by = None;
        }
        let len = elems.len() as i64;
        let mut start = req.start.max(0);
        let mut end = if req.count < 0 {
            len - 1
        } else {
            start.saturating_add(req.count) - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        if end >= len {
            end = len - 1;
        }
        if req.dontsort && !is_set {
            // Lists and sorted sets keep their order, reversed by DESC, and
            // LIMIT takes the range directly.
            if req.desc {
                elems.reverse();
            }
            elems = if end >= start {
                elems[start as usize..=end as usize].to_vec()
            } else {
                Vec::new()
            };
            end -= start;
            start = 0;
        }
        if !req.dontsort {
            let mut items: Vec<(Vec<u8>, Option<Vec<u8>>, f64)> = match &req.by {
                Some(p) => {
                    let vals = lookup_all(c, p, &elems).await;
                    elems
                        .into_iter()
                        .zip(vals)
                        .map(|(e, v)| (e, v, 0.0))
                        .collect()
                }
                None => elems.into_iter().map(|e| (e, None, 0.0)).collect(),
            };
            if !req.alpha {
                for it in items.iter_mut() {
                    let w = if req.by.is_some() {
                        it.1.as_deref()
                    } else {
                        Some(&it.0[..])
                    };
                    if let Some(w) = w {
                        match parse_f64(w) {
                            Some(s) => it.2 = s,
                            None => {
                                return c.error(
                                    "ERR One or more scores can't be converted into double",
                                );
                            }
                        }
                    }
                }
            }
            let by = req.by.is_some();
            let alpha = req.alpha;
            items.sort_by(|x, y| {
                let cmp = if !alpha {
                    x.2.partial_cmp(&y.2)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| x.0.cmp(&y.0))
                } else if by {
                    match (&x.1, &y.1) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => Ordering::Less,
                        (Some(_), None) => Ordering::Greater,
                        (Some(a), Some(b)) => c_cmp(a, b),
                    }
                } else {
                    x.0.cmp(&y.0)
                };
                if req.desc { cmp.reverse() } else { cmp }
            });
            elems = items.into_iter().map(|(e, _, _)| e).collect();
        }
        let picked: Vec<Vec<u8>> = if end >= start && !elems.is_empty() {
            elems[start as usize..=(end as usize).min(elems.len() - 1)].to_vec()
        } else {
            Vec::new()
        };
        // Output rows: the element itself, or one value per GET pattern.
        let mut rows: Vec<Option<Vec<u8>>> = Vec::new();
        if req.gets.is_empty() {
            rows.extend(picked.iter().cloned().map(Some));
        } else {
            let mut cols = Vec::with_capacity(req.gets.len());
            for g in &req.gets {
                cols.push(lookup_all(c, g, &picked).await);
            }
            for i in 0..picked.len() {
                for col in &cols {
                    rows.push(col[i].clone());
                }
            }
        }
        match req.store {
            None => {
                let mut r = c.reply();
                r.array(rows.len());
                for v in &rows {
                    match v {
                        Some(v) => r.bulk(v),
                        None => r.null(),
                    }
                }
            }
            Some(dest) => {
                let n = rows.len();
                let d2 = dest.clone();
                c.on_key(&dest, move |ctx| {
                    let now = ctx.now;
                    let dbi = ctx.db;
                    let db = ctx.db();
                    if rows.is_empty() {
                        if db.delete(&d2, now) {
                            notify::emit(notify::GENERIC, "del", dbi, &d2);
                        }
                        return;
                    }
                    // The result replaces whatever was there (value and TTL).
                    let fill = Fill::current();
                    let mut l = List::new();
                    for v in &rows {
                        l.push(End::Right, v.as_deref().unwrap_or_default(), fill);
                    }
                    db.set_at(&d2, Value::List(Box::new(l)), now);
                    notify::emit(notify::LIST, "sortstore", dbi, &d2);
                    crate::metrics::changes(n as u64);
                })
                .await;
                c.reply().int(n as i64);
            }
        }
    })
}

/// `strcoll` in the C locale: bytes up to the first NUL.
fn c_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let cut = |s: &[u8]| -> usize { s.iter().position(|&x| x == 0).unwrap_or(s.len()) };
    a[..cut(a)].cmp(&b[..cut(b)])
}

fn sort(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    sort_generic(c, a, false)
}

fn sort_ro(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    sort_generic(c, a, true)
}

/// Keys of SORT: the source, and the (last) STORE destination when present.
fn sort_keys(a: crate::protocol::Args<'_>, out: &mut Vec<usize>) {
    out.push(1);
    let mut store = None;
    let mut j = 2;
    while j < a.len() {
        let o = a.get(j);
        let skip = if eq(o, "limit") {
            2
        } else if eq(o, "by") || eq(o, "get") {
            1
        } else if eq(o, "store") {
            if j + 1 < a.len() {
                store = Some(j + 1);
            }
            1
        } else {
            0
        };
        j += 1 + skip;
    }
    out.extend(store);
}

/// SORT and SORT_RO reach keys their key spec does not name when a BY or
/// GET pattern substitutes elements (`*`; a pattern without it looks nothing
/// up, and `#` is the element itself): they then lock every shard whole,
/// shared, or exclusive with STORE, so the lookups see one consistent
/// keyspace.
fn sort_lock_whole(a: crate::protocol::Args<'_>) -> Option<crate::shard::txn::Mode> {
    let mut lookups = false;
    let mut store = false;
    let mut j = 2;
    while j < a.len() {
        let o = a.get(j);
        if eq(o, "limit") {
            j += 3;
            continue;
        }
        if (eq(o, "by") || eq(o, "get")) && j + 1 < a.len() {
            let p = a.get(j + 1);
            lookups |= p != b"#" && p.contains(&b'*');
            j += 2;
            continue;
        }
        if eq(o, "store") {
            store = true;
            j += 2;
            continue;
        }
        j += 1;
    }
    use crate::shard::txn::Mode;
    lookups.then_some(if store { Mode::Exclusive } else { Mode::Shared })
}

/// SORT family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        name: "sort",
        arity: -2,
        flags: WRITE | DENYOOM | MOVABLE_KEYS,
        first_key: 1,
        last_key: 1,
        step: 1,
        keys: Some(sort_keys),
        acl: &["write", "set", "sortedset", "list", "slow", "dangerous"],
        group: "generic",
        summary: "Sort the elements in a list, set or sorted set",
        since: "1.0.0",
        coord: Some(sort),
        lock_whole: Some(sort_lock_whole),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        name: "sort_ro",
        arity: -2,
        flags: READONLY | MOVABLE_KEYS,
        first_key: 1,
        last_key: 1,
        step: 1,
        acl: &["read", "set", "sortedset", "list", "slow", "dangerous"],
        group: "generic",
        summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        since: "7.0.0",
        coord: Some(sort_ro),
        lock_whole: Some(sort_lock_whole),
        ..CommandSpec::DEFAULT
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_like_redis() {
        assert_eq!(pattern_key(b"w_*", b"3"), Some((b"w_3".to_vec(), None)));
        assert_eq!(
            pattern_key(b"h_*->f", b"3"),
            Some((b"h_3".to_vec(), Some(b"f".to_vec())))
        );
        // "->" with nothing after it is part of the key name.
        assert_eq!(pattern_key(b"h_*->", b"3"), Some((b"h_3->".to_vec(), None)));
        assert_eq!(pattern_key(b"nostar", b"3"), None);
    }

    #[test]
    fn only_pattern_lookups_lock_every_shard() {
        use crate::shard::txn::Mode;
        let run = |line: &str| {
            let parts: Vec<&[u8]> = line.split(' ').map(|p| p.as_bytes()).collect();
            let a = OwnedArgs::from_slices(&parts);
            sort_lock_whole(a.args())
        };
        assert_eq!(run("SORT l"), None);
        assert_eq!(run("SORT l BY nosort GET #"), None);
        assert_eq!(run("SORT l GET constant LIMIT 0 5"), None);
        assert_eq!(run("SORT l STORE d"), None);
        assert_eq!(run("SORT l BY w_*"), Some(Mode::Shared));
        assert_eq!(run("SORT_RO l GET # GET h_*->f"), Some(Mode::Shared));
        assert_eq!(run("SORT l BY w_* STORE d"), Some(Mode::Exclusive));
        // Argument names are not patterns: a destination called "by".
        assert_eq!(run("SORT l STORE by"), None);
        assert_eq!(run("SORT l LIMIT 0 1 GET o_*"), Some(Mode::Shared));
    }

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b""), None);
    }
}
