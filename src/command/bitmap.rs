//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! ```text
//!  bit 0 = most significant bit of byte 0       (same layout as Redis)
//!  single-key commands ──► ShardFn on the owning shard
//!  BITOP with keys on several shards ──► CoordFn: fetch sources per shard,
//!                                        compute here, store on dest's shard
//! ```
//!
//! The pure bit operations come first, then the handlers, then the specs.

use super::string::{StrRead, lookup_write, read_str};
use super::util::*;
use super::{CommandSpec, Ctx, LocalBoxFuture, OwnedArgs, flags::*, keyflags};
use crate::command::session::Session;
use crate::protocol::{Args, Reply};
use crate::storage::Value;
use crate::storage::notify;

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const BIT_VALUE_ERR: &str = "ERR bit is not an integer or out of range";
const BITFIELD_TYPE_ERR: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

// ---------------------------------------------------------------------------
// Pure bit operations
// ---------------------------------------------------------------------------

/// Parses a bit offset (getBitOffsetFromArgument). With `bits > 0` a `#n`
/// offset means `n * bits`.
pub fn parse_bit_offset(s: &[u8], bits: u32) -> Option<u64> {
    let hash = bits > 0 && s.first() == Some(&b'#');
    let mut v = parse_i64(if hash { &s[1..] } else { s })?;
    if hash {
        v = v.wrapping_mul(bits as i64);
    }
    if v < 0 || (v >> 3) >= crate::config::proto_max_bulk_len() {
        return None;
    }
    Some(v as u64)
}

/// Parses a BITFIELD type: `(signed, bits)`; i1..i64, u1..u63.
pub fn parse_bitfield_type(s: &[u8]) -> Option<(bool, u32)> {
    let signed = match s.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits = parse_i64(&s[1..])?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return None;
    }
    Some((signed, bits as u32))
}

/// Number of set bits.
pub fn popcount(p: &[u8]) -> u64 {
    let mut chunks = p.chunks_exact(8);
    let mut n: u64 = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        n += u64::from_ne_bytes(w).count_ones() as u64;
    }
    n + chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>()
}

/// Position of the first bit equal to `bit` (redisBitpos): -1 when looking for
/// a 1 and none is set; when looking for a 0 in all-ones bytes, the position
/// right after them (the string is considered zero padded on the right).
pub fn bitpos_raw(p: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0u8 } else { 0xff };
    for (i, &b) in p.iter().enumerate() {
        if b != skip {
            let x = if bit { b } else { !b };
            return (i * 8) as i64 + x.leading_zeros() as i64;
        }
    }
    if bit { -1 } else { (p.len() * 8) as i64 }
}

/// Reads an unsigned field of `bits` bits at bit `offset` (bits past the end
/// of `p` read as zero).
pub fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        let o = offset + j;
        let byte = p.get((o >> 3) as usize).copied().unwrap_or(0);
        let bit = (byte >> (7 - (o & 7))) & 1;
        v = (v << 1) | bit as u64;
    }
    v
}

/// Reads a signed (two's complement) field.
pub fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let u = get_unsigned(p, offset, bits);
    if bits < 64 && u & (1u64 << (bits - 1)) != 0 {
        (u | (u64::MAX << bits)) as i64
    } else {
        u as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`; `p` must be long enough.
pub fn set_field(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let bitval = (value >> (bits as u64 - 1 - j)) & 1;
        let o = offset + j;
        let byte = &mut p[(o >> 3) as usize];
        let shift = 7 - (o & 7);
        *byte = (*byte & !(1 << shift)) | ((bitval as u8) << shift);
    }
}

/// BITFIELD overflow behaviour.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Overflow {
    /// Wrap around (default).
    Wrap,
    /// Saturate at the limits.
    Sat,
    /// Refuse the operation (reply null).
    Fail,
}

/// `value + incr` for an unsigned field: `(result, overflowed)`; with Fail the
/// result is meaningless when it overflowed.
pub fn unsigned_add(value: u64, incr: i64, bits: u32, ow: Overflow) -> (u64, bool) {
    let max: u64 = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        match ow {
            Overflow::Wrap => (wrap(), true),
            Overflow::Sat => (max, true),
            Overflow::Fail => (0, true),
        }
    } else if incr < 0 && incr < minincr {
        match ow {
            Overflow::Wrap => (wrap(), true),
            Overflow::Sat => (0, true),
            Overflow::Fail => (0, true),
        }
    } else {
        (value.wrapping_add(incr as u64), false)
    }
}

/// `value + incr` for a signed field: `(result, overflowed)`.
pub fn signed_add(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i64, bool) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        match ow {
            Overflow::Wrap => (wrap(), true),
            Overflow::Sat => (max, true),
            Overflow::Fail => (0, true),
        }
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        match ow {
            Overflow::Wrap => (wrap(), true),
            Overflow::Sat => (min, true),
            Overflow::Fail => (0, true),
        }
    } else {
        (value.wrapping_add(incr), false)
    }
}

/// BITOP operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BitOp {
    /// AND.
    And,
    /// OR.
    Or,
    /// XOR.
    Xor,
    /// NOT (one source).
    Not,
}

/// Computes BITOP over the sources (missing keys are empty strings).
pub fn bitop_compute(op: BitOp, srcs: &[Option<&[u8]>]) -> Vec<u8> {
    let maxlen = srcs
        .iter()
        .map(|s| s.map_or(0, |s| s.len()))
        .max()
        .unwrap_or(0);
    let byte = |s: &Option<&[u8]>, j: usize| s.and_then(|s| s.get(j).copied()).unwrap_or(0);
    let mut res = Vec::with_capacity(maxlen);
    for j in 0..maxlen {
        let mut out = byte(&srcs[0], j);
        match op {
            BitOp::Not => out = !out,
            BitOp::And => srcs[1..].iter().for_each(|s| out &= byte(s, j)),
            BitOp::Or => srcs[1..].iter().for_each(|s| out |= byte(s, j)),
            BitOp::Xor => srcs[1..].iter().for_each(|s| out ^= byte(s, j)),
        }
        res.push(out);
    }
    res
}

/// Resolves a BITCOUNT/BITPOS range over `len` bytes. Returns the byte range
/// and the masks of the bits outside the range in the first and last byte.
fn bit_range(mut start: i64, mut end: i64, len: i64, isbit: bool) -> (i64, i64, u8, u8) {
    let totlen = if isbit { len << 3 } else { len };
    if start < 0 {
        start += totlen;
    }
    if end < 0 {
        end += totlen;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= totlen {
        end = totlen - 1;
    }
    let (mut first, mut last) = (0u8, 0u8);
    if isbit && start <= end {
        first = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    (start, end, first, last)
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// Grows (or creates) the string at `key` to hold bit `maxbit`
/// (lookupStringForBitCommand). Returns the bytes and whether the key was
/// created or grown; None after a WRONGTYPE reply.
fn string_for_bits<'a>(
    ctx: &'a mut Ctx<'_>,
    r: &mut Reply<'_>,
    key: &[u8],
    maxbit: u64,
) -> Option<(&'a mut Vec<u8>, bool)> {
    let need = (maxbit >> 3) as usize + 1;
    let exists = match lookup_write(ctx, key) {
        None => false,
        Some(e) if e.value.as_str().is_none() => {
            r.error(WRONGTYPE);
            return None;
        }
        Some(_) => true,
    };
    if !exists {
        ctx.db().set(key, Value::raw(vec![0u8; need]));
    }
    let now = ctx.now;
    let e = ctx.db().get_mut(key, now)?;
    let v = e.value.str_mut()?;
    let mut dirty = !exists;
    if v.len() < need {
        v.resize(need, 0);
        dirty = true;
    }
    Some((v, dirty))
}

/// `SETBIT key offset value`
///
/// Counts one change when the key was created or grown or the bit flipped.
fn setbit(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(off) = parse_bit_offset(a.get(2), 0) else {
        return r.error(BIT_OFFSET_ERR);
    };
    let on = match parse_i64(a.get(3)) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return r.error(BIT_VALUE_ERR),
    };
    let Some((v, grew)) = string_for_bits(ctx, r, a.get(1), off) else {
        return;
    };
    let byte = &mut v[(off >> 3) as usize];
    let shift = 7 - (off & 7);
    let old = (*byte >> shift) & 1;
    *byte = (*byte & !(1 << shift)) | (on << shift);
    let changed = grew || old != on;
    crate::metrics::changes(u64::from(changed));
    if changed {
        notify::emit(notify::STRING, "setbit", ctx.db, a.get(1));
    }
    r.int(old as i64);
}

/// `GETBIT key offset`
fn getbit(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let Some(off) = parse_bit_offset(a.get(2), 0) else {
        return r.error(BIT_OFFSET_ERR);
    };
    match read_str(ctx, a.get(1)) {
        StrRead::Missing => r.int(0),
        StrRead::WrongType => r.error(WRONGTYPE),
        StrRead::Found(s) => {
            let bit = s
                .get((off >> 3) as usize)
                .map_or(0, |b| (b >> (7 - (off & 7))) & 1);
            r.int(bit as i64);
        }
    }
}

/// Parses an optional BYTE|BIT unit argument.
fn unit_is_bit(s: &[u8]) -> Option<bool> {
    if eq(s, "bit") {
        Some(true)
    } else if eq(s, "byte") {
        Some(false)
    } else {
        None
    }
}

/// `BITCOUNT key [start end [BYTE|BIT]]`
fn bitcount(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let p = match read_str(ctx, a.get(1)) {
        StrRead::Missing => return r.int(0),
        StrRead::WrongType => return r.error(WRONGTYPE),
        StrRead::Found(s) => s,
    };
    let len = p.len() as i64;
    let (start, end, first, last) = match a.len() {
        2 => (0, len - 1, 0, 0),
        4 | 5 => {
            let (Some(s), Some(e)) = (parse_i64(a.get(2)), parse_i64(a.get(3))) else {
                return r.error(NOT_INT);
            };
            if s < 0 && e < 0 && s > e {
                return r.int(0);
            }
            let isbit = if a.len() == 5 {
                match unit_is_bit(a.get(4)) {
                    Some(b) => b,
                    None => return r.error(SYNTAX),
                }
            } else {
                false
            };
            bit_range(s, e, len, isbit)
        }
        _ => return r.error(SYNTAX),
    };
    if start > end {
        return r.int(0);
    }
    let (s, e) = (start as usize, end as usize);
    let mut n = popcount(&p[s..=e]) as i64;
    if first != 0 {
        n -= (p[s] & first).count_ones() as i64;
    }
    if last != 0 {
        n -= (p[e] & last).count_ones() as i64;
    }
    r.int(n);
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`
fn bitpos(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let bit = match parse_i64(a.get(2)) {
        None => return r.error(NOT_INT),
        Some(b @ (0 | 1)) => b == 1,
        Some(_) => return r.error("ERR The bit argument must be 1 or 0."),
    };
    let p = match read_str(ctx, a.get(1)) {
        StrRead::Missing => return r.int(if bit { -1 } else { 0 }),
        StrRead::WrongType => return r.error(WRONGTYPE),
        StrRead::Found(s) => s,
    };
    let len = p.len() as i64;
    let mut end_given = false;
    let (start, end, first, last) = match a.len() {
        3 => (0, len - 1, 0, 0),
        4..=6 => {
            let Some(s) = parse_i64(a.get(3)) else {
                return r.error(NOT_INT);
            };
            let isbit = if a.len() == 6 {
                match unit_is_bit(a.get(5)) {
                    Some(b) => b,
                    None => return r.error(SYNTAX),
                }
            } else {
                false
            };
            let e = if a.len() >= 5 {
                let Some(e) = parse_i64(a.get(4)) else {
                    return r.error(NOT_INT);
                };
                end_given = true;
                e
            } else if isbit {
                (len << 3) + 7
            } else {
                len - 1
            };
            bit_range(s, e, len, isbit)
        }
        _ => return r.error(SYNTAX),
    };
    if start > end {
        return r.int(-1);
    }
    // Work on a copy of the range with out-of-range edge bits forced to the
    // value we are not looking for.
    let mut bytes = p[start as usize..=end as usize].to_vec();
    let n = bytes.len();
    if first != 0 {
        if bit {
            bytes[0] &= !first;
        } else {
            bytes[0] |= first;
        }
    }
    if last != 0 {
        if bit {
            bytes[n - 1] &= !last;
        } else {
            bytes[n - 1] |= last;
        }
    }
    let pos = bitpos_raw(&bytes, bit);
    if end_given && !bit && pos == (n as i64) << 3 {
        return r.int(-1);
    }
    r.int(if pos == -1 { -1 } else { pos + (start << 3) });
}

fn parse_bitop(a: &[u8]) -> Option<BitOp> {
    if eq(a, "and") {
        Some(BitOp::And)
    } else if eq(a, "or") {
        Some(BitOp::Or)
    } else if eq(a, "xor") {
        Some(BitOp::Xor)
    } else if eq(a, "not") {
        Some(BitOp::Not)
    } else {
        None
    }
}

const BITOP_NOT_ERR: &str = "ERR BITOP NOT must be called with a single source key.";

/// Checks BITOP's operation and source count; replies with the error.
fn bitop_check(a: Args<'_>) -> Result<BitOp, &'static str> {
    let op = parse_bitop(a.get(1)).ok_or(SYNTAX)?;
    if op == BitOp::Not && a.len() != 4 {
        return Err(BITOP_NOT_ERR);
    }
    Ok(op)
}

/// Stores a BITOP result: the string (`set`), or no key at all when empty
/// (`del` when there was one).
fn bitop_store(ctx: &mut Ctx<'_>, dest: &[u8], res: Vec<u8>) {
    let now = ctx.now;
    let dbi = ctx.db;
    let db = ctx.db();
    if res.is_empty() {
        if !db.delete(dest, now) {
            crate::metrics::signalled_own_keys();
            return;
        }
        notify::emit(notify::GENERIC, "del", dbi, dest);
    } else {
        db.set_at(dest, Value::raw(res), now);
        notify::emit(notify::STRING, "set", dbi, dest);
    }
    super::util::changed_only(db, dest);
}

/// `BITOP AND|OR|XOR|NOT destkey key [key ...]` with every key on this shard.
fn bitop(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    let op = match bitop_check(a) {
        Ok(op) => op,
        Err(e) => return r.error(e),
    };
    let mut srcs: Vec<Option<Vec<u8>>> = Vec::with_capacity(a.len() - 3);
    for k in a.iter().skip(3) {
        match read_str(ctx, k) {
            StrRead::Missing => srcs.push(None),
            StrRead::Found(s) => srcs.push(Some(s.to_vec())),
            StrRead::WrongType => return r.error(WRONGTYPE),
        }
    }
    let views: Vec<Option<&[u8]>> = srcs.iter().map(|s| s.as_deref()).collect();
    let res = bitop_compute(op, &views);
    let n = res.len();
    bitop_store(ctx, a.get(2), res);
    r.int(n as i64);
}

/// BITOP with keys on several shards.
fn bitop_coord(c: &mut Session, a: OwnedArgs) -> LocalBoxFuture<'_> {
    Box::pin(async move {
        let op = match bitop_check(a.args()) {
            Ok(op) => op,
            Err(e) => return c.error(e),
        };
        let groups = c.group_by_shard(&a, 3..a.len());
        let futs = groups.iter().map(|(shard, idx)| {
            let keys: Vec<Vec<u8>> = idx.iter().map(|&i| a.get(i).to_vec()).collect();
            c.on_shard(*shard, move |ctx| {
                keys.iter()
                    .map(|k| match read_str(ctx, k) {
                        StrRead::Missing => Ok(None),
                        StrRead::Found(s) => Ok(Some(s.to_vec())),
                        StrRead::WrongType => Err(()),
                    })
                    .collect::<Vec<_>>()
            })
        });
        let results = futures::future::join_all(futs).await;
        let mut srcs: Vec<Result<Option<Vec<u8>>, ()>> = vec![Ok(None); a.len()];
        for ((_, idx), res) in groups.iter().zip(results) {
            for (&i, v) in idx.iter().zip(res) {
                srcs[i] = v;
            }
        }
        let mut views = Vec::with_capacity(a.len() - 3);
        for s in &srcs[3..] {
            match s {
                Ok(v) => views.push(v.as_deref()),
                Err(()) => return c.error(WRONGTYPE),
            }
        }
        let res = bitop_compute(op, &views);
        let n = res.len();
        let dest = a.get(2).to_vec();
        let owner = c.owner(&dest);
        c.on_shard(owner, move |ctx| bitop_store(ctx, &dest, res))
            .await;
        c.reply().int(n as i64);
    })
}

/// One parsed BITFIELD operation.
#[derive(Clone, Copy, Debug)]
struct FieldOp {
    offset: u64,
    value: i64,
    kind: u8, // 0 get, 1 set, 2 incrby
    ow: Overflow,
    bits: u32,
    signed: bool,
}

/// Parses BITFIELD's operations; Err carries the error text.
fn parse_bitfield(a: Args<'_>) -> Result<(Vec<FieldOp>, bool, u64), &'static str> {
    let mut ops = Vec::new();
    let mut ow = Overflow::Wrap;
    let mut readonly = true;
    let mut highest = 0u64;
    let mut j = 2;
    while j < a.len() {
        let rem = a.len() - j - 1;
        let sub = a.get(j);
        let kind = if eq(sub, "get") && rem >= 2 {
            0
        } else if eq(sub, "set") && rem >= 3 {
            1
        } else if eq(sub, "incrby") && rem >= 3 {
            2
        } else if eq(sub, "overflow") && rem >= 1 {
            let t = a.get(j + 1);
            ow = if eq(t, "wrap") {
                Overflow::Wrap
            } else if eq(t, "sat") {
                Overflow::Sat
            } else if eq(t, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return Err(SYNTAX);
        };
        let (signed, bits) = parse_bitfield_type(a.get(j + 1)).ok_or(BITFIELD_TYPE_ERR)?;
        let offset = parse_bit_offset(a.get(j + 2), bits).ok_or(BIT_OFFSET_ERR)?;
        let mut value = 0;
        if kind != 0 {
            readonly = false;
            highest = highest.max(offset + bits as u64 - 1);
            value = parse_i64(a.get(j + 3)).ok_or(NOT_INT)?;
        }
        ops.push(FieldOp {
            offset,
            value,
            kind,
            ow,
            bits,
            signed,
        });
        j += if kind == 0 { 3 } else { 4 };
    }
    Ok((ops, readonly, highest))
}

/// Replies with GET results over `p` (None: missing key).
fn field_get(r: &mut Reply<'_>, p: &[u8], op: &FieldOp) {
    if op.signed {
        r.int(get_signed(p, op.offset, op.bits));
    } else {
        r.int(get_unsigned(p, op.offset, op.bits) as i64);
    }
}

fn bitfield_generic(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>, ro_cmd: bool) {
    let (ops, readonly, highest) = match parse_bitfield(a) {
        Ok(x) => x,
        Err(e) => return r.error(e),
    };
    let key = a.get(1);
    if readonly {
        let p: &[u8] = match read_str(ctx, key) {
            StrRead::WrongType => return r.error(WRONGTYPE),
            StrRead::Missing => b"",
            StrRead::Found(s) => s,
        };
        r.array(ops.len());
        for op in &ops {
            field_get(r, p, op);
        }
        return;
    }
    if ro_cmd {
        return r.error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let Some((v, grew)) = string_for_bits(ctx, r, key, highest) else {
        return;
    };
    // Like Redis: each applied SET/INCRBY counts when it changed the value or
    // the string was created or grown for it.
    let mut changes = 0u64;
    r.array(ops.len());
    for op in &ops {
        if op.kind == 0 {
            field_get(r, v, op);
            continue;
        }
        if op.signed {
            let old = get_signed(v, op.offset, op.bits);
            let (new, over, ret) = if op.kind == 2 {
                let (n, o) = signed_add(old, op.value, op.bits, op.ow);
                (n, o, n)
            } else {
                let (n, o) = signed_add(op.value, 0, op.bits, op.ow);
                (n, o, old)
            };
            if over && op.ow == Overflow::Fail {
                r.null();
            } else {
                r.int(ret);
                changes += u64::from(grew || get_signed(v, op.offset, op.bits) != new);
                set_field(v, op.offset, op.bits, new as u64);
            }
        } else {
            let old = get_unsigned(v, op.offset, op.bits);
            let (new, over, ret) = if op.kind == 2 {
                let (n, o) = unsigned_add(old, op.value, op.bits, op.ow);
                (n, o, n)
            } else {
                let (n, o) = unsigned_add(op.value as u64, 0, op.bits, op.ow);
                (n, o, old)
            };
            if over && op.ow == Overflow::Fail {
                r.null();
            } else {
                r.int(ret as i64);
                changes += u64::from(grew || get_unsigned(v, op.offset, op.bits) != new);
                set_field(v, op.offset, op.bits, new);
            }
        }
    }
    crate::metrics::changes(changes);
    if changes > 0 {
        notify::emit(notify::STRING, "setbit", ctx.db, key);
    }
}

/// `BITFIELD key [GET type offset] [SET type offset value]
/// [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL] ...`
fn bitfield(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    bitfield_generic(ctx, r, a, false);
}

/// `BITFIELD_RO key [GET type offset ...]`
fn bitfield_ro(ctx: &mut Ctx<'_>, r: &mut Reply<'_>, a: Args<'_>) {
    bitfield_generic(ctx, r, a, true);
}

// ---------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------

const fn one_key(name: &'static str, arity: i32, flags: u64, key_flags: u32) -> CommandSpec {
    CommandSpec::single_key(name, "bitmap", arity, flags, key_flags)
}

/// Bitmap family specs.
pub static SPECS: &[CommandSpec] = &[
    CommandSpec {
        acl: &["write", "bitmap", "slow"],
        summary: "Sets or clears the bit at offset in the string value stored at key",
        since: "2.2.0",
        shard: Some(setbit),
        ..one_key(
            "setbit",
            4,
            WRITE | DENYOOM,
            keyflags::RW | keyflags::ACCESS | keyflags::UPDATE,
        )
    },
    CommandSpec {
        acl: &["read", "bitmap", "fast"],
        summary: "Returns the bit value at offset in the string value stored at key",
        since: "2.2.0",
        shard: Some(getbit),
        ..one_key(
            "getbit",
            3,
            READONLY | FAST,
            keyflags::RO | keyflags::ACCESS,
        )
    },
    CommandSpec {
        acl: &["read", "bitmap", "slow"],
        summary: "Count set bits in a string",
        since: "2.6.0",
        complexity: "O(N)",
        shard: Some(bitcount),
        ..one_key("bitcount", -2, READONLY, keyflags::RO | keyflags::ACCESS)
    },
    CommandSpec {
        acl: &["read", "bitmap", "slow"],
        summary: "Find first bit set or clear in a string",
        since: "2.8.7",
        complexity: "O(N)",
        shard: Some(bitpos),
        ..one_key("bitpos", -3, READONLY, keyflags::RO | keyflags::ACCESS)
    },
    CommandSpec {
        name: "bitop",
        arity: -4,
        flags: WRITE | DENYOOM,
        first_key: 2,
        last_key: -1,
        step: 1,
        // Redis has two key specs: the destination (OW, update) and the
        // sources (RO, access); the table keeps one, the destination's.
        key_flags: keyflags::OW | keyflags::UPDATE,
        acl: &["write", "bitmap", "slow"],
        group: "bitmap",
        summary: "Perform bitwise operations between strings",
        since: "2.6.0",
        complexity: "O(N)",
        shard: Some(bitop),
        coord: Some(bitop_coord),
        ..CommandSpec::DEFAULT
    },
    CommandSpec {
        acl: &["write", "bitmap", "slow"],
        summary: "Perform arbitrary bitfield integer operations on strings",
        since: "3.2.0",
        complexity: "O(1) for each subcommand specified",
        shard: Some(bitfield),
        key_notes: "This command allows both access and modification of the key",
        ..one_key(
            "bitfield",
            -2,
            WRITE | DENYOOM,
            keyflags::RW | keyflags::ACCESS | keyflags::UPDATE | keyflags::VARIABLE_FLAGS,
        )
    },
    CommandSpec {
        acl: &["read", "bitmap", "fast"],
        summary: "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        since: "6.0.0",
        complexity: "O(1) for each subcommand specified",
        shard: Some(bitfield_ro),
        ..one_key(
            "bitfield_ro",
            -2,
            READONLY | FAST,
            keyflags::RO | keyflags::ACCESS,
        )
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_types() {
        assert_eq!(parse_bit_offset(b"7", 0), Some(7));
        assert_eq!(parse_bit_offset(b"#2", 8), Some(16));
        assert_eq!(parse_bit_offset(b"#2", 0), None);
        assert_eq!(parse_bit_offset(b"-1", 0), None);
        assert_eq!(parse_bit_offset(b"4294967295", 0), Some(4294967295));
        assert_eq!(parse_bit_offset(b"4294967296", 0), None);
        assert_eq!(parse_bitfield_type(b"i64"), Some((true, 64)));
        assert_eq!(parse_bitfield_type(b"u64"), None);
        assert_eq!(parse_bitfield_type(b"u0"), None);
        assert_eq!(parse_bitfield_type(b"x8"), None);
    }

    #[test]
    fn fields() {
        let mut p = vec![0u8; 2];
        set_field(&mut p, 7, 5, 23);
        assert_eq!(p, vec![0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&p, 7, 5), 23);
        set_field(&mut p, 0, 8, 0xff);
        assert_eq!(get_signed(&p, 0, 8), -1);
        assert_eq!(get_unsigned(&p, 100, 8), 0);
    }

    #[test]
    fn overflow_arith() {
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Wrap), (4, true));
        assert_eq!(unsigned_add(250, 10, 8, Overflow::Sat), (255, true));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Sat), (0, true));
        assert_eq!(unsigned_add(5, -10, 8, Overflow::Wrap), (251, true));
        assert_eq!(unsigned_add(5, 1, 8, Overflow::Fail), (6, false));
        assert_eq!(signed_add(120, 10, 8, Overflow::Wrap), (-126, true));
        assert_eq!(signed_add(120, 10, 8, Overflow::Sat), (127, true));
        assert_eq!(signed_add(-120, -10, 8, Overflow::Sat), (-128, true));
        assert_eq!(
            signed_add(i64::MAX, 1, 64, Overflow::Wrap),
            (i64::MIN, true)
        );
        assert_eq!(signed_add(i64::MAX, 1, 64, Overflow::Sat), (i64::MAX, true));
        assert_eq!(signed_add(-1, 1, 64, Overflow::Fail), (0, false));
    }

    #[test]
    fn bitpos_and_count() {
        assert_eq!(bitpos_raw(&[0xff, 0xf0, 0x00], false), 12);
        assert_eq!(bitpos_raw(&[0x00, 0x00], true), -1);
        assert_eq!(bitpos_raw(&[0xff, 0xff], false), 16);
        assert_eq!(bitpos_raw(&[0x00, 0x01], true), 15);
        assert_eq!(popcount(b"foobar"), 26);
    }

    #[test]
    fn bitop_ops() {
        let a: &[u8] = &[0xf0, 0x0f];
        let b: &[u8] = &[0xff];
        assert_eq!(
            bitop_compute(BitOp::And, &[Some(a), Some(b)]),
            vec![0xf0, 0]
        );
        assert_eq!(bitop_compute(BitOp::Or, &[Some(a), None]), vec![0xf0, 0x0f]);
        assert_eq!(
            bitop_compute(BitOp::Xor, &[Some(a), Some(b)]),
            vec![0x0f, 0x0f]
        );
        assert_eq!(bitop_compute(BitOp::Not, &[Some(b)]), vec![0x00]);
        assert!(bitop_compute(BitOp::And, &[None, None]).is_empty());
    }
}
