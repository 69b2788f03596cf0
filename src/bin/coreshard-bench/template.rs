//! Request templates: a command line is split into arguments once, everything
//! constant is pre-encoded as RESP bytes, and sending a request only copies those
//! bytes plus freshly drawn key numbers into the connection's write buffer.

/// Placeholder replaced by a freshly drawn key (prefix + number).
pub const KEY: &str = "__key__";
/// Placeholder replaced by the value bytes.
pub const DATA: &str = "__data__";

/// Splits a command line on spaces; double quotes group words containing spaces
/// (`\"` and `\\` escape inside quotes).
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(format!("unbalanced quotes in command: {line}")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => cur.push(e),
                            None => {
                                return Err(format!("unbalanced quotes in command: {line}"));
                            }
                        },
                        Some(ch) => cur.push(ch),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    if out.is_empty() {
        return Err("empty --command".into());
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    /// Bytes `[a, b)` of the template's constant buffer.
    Lit(u32, u32),
    Key,
    Data,
}

#[derive(Clone, Debug)]
enum Part {
    /// Constant RESP bytes `[a, b)` (whole constant arguments, headers included).
    Const(u32, u32),
    /// An argument containing keys: segments `[a, b)` of `segs`, and the length of
    /// its fixed part (everything but the key numbers).
    Dynamic { a: u32, b: u32, fixed: u32 },
}

/// A pre-encoded command.
#[derive(Clone, Debug)]
pub struct Template {
    bytes: Vec<u8>,
    parts: Vec<Part>,
    segs: Vec<Seg>,
    data: Vec<u8>,
    prefix: Vec<u8>,
    width: usize,
    /// Keys drawn per request.
    pub keys: usize,
    /// First word, uppercased.
    pub name: String,
}

/// Most key placeholders one argument may hold (keys across arguments are unlimited).
const MAX_KEYS_PER_ARG: usize = 16;

/// The value bytes: a fixed printable pattern.
pub fn value_bytes(size: usize) -> Vec<u8> {
    const PAT: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..size).map(|i| PAT[i % PAT.len()]).collect()
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Splits one argument into literal/key/data segments.
fn segments(arg: &str, bytes: &mut Vec<u8>, segs: &mut Vec<Seg>) {
    let mut rest = arg;
    loop {
        let k = rest.find(KEY);
        let d = rest.find(DATA);
        let (at, seg, plen) = match (k, d) {
            (None, None) => break,
            (Some(k), Some(d)) if d < k => (d, Seg::Data, DATA.len()),
            (Some(k), _) => (k, Seg::Key, KEY.len()),
            (None, Some(d)) => (d, Seg::Data, DATA.len()),
        };
        if at > 0 {
            let a = bytes.len() as u32;
            bytes.extend_from_slice(&rest.as_bytes()[..at]);
            segs.push(Seg::Lit(a, bytes.len() as u32));
        }
        segs.push(seg);
        rest = &rest[at + plen..];
    }
    if !rest.is_empty() {
        let a = bytes.len() as u32;
        bytes.extend_from_slice(rest.as_bytes());
        segs.push(Seg::Lit(a, bytes.len() as u32));
    }
}

impl Template {
    /// Builds a template from split arguments.
    pub fn new(
        args: &[String],
        prefix: &[u8],
        width: usize,
        data_size: usize,
    ) -> Result<Template, String> {
        let data = value_bytes(data_size);
        let mut bytes = Vec::new();
        let mut parts = Vec::new();
        let mut segs = Vec::new();
        let mut keys = 0;
        // Constant bytes accumulate here until a dynamic argument interrupts them.
        let mut const_start = 0u32;
        let push_const = |bytes: &mut Vec<u8>, parts: &mut Vec<Part>, start: &mut u32| {
            if (bytes.len() as u32) > *start {
                parts.push(Part::Const(*start, bytes.len() as u32));
            }
            *start = bytes.len() as u32;
        };
        bytes.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            if !arg.contains(KEY) {
                let v: Vec<u8> = arg.replace(DATA, "\u{0}").into_bytes();
                // Expand data placeholders (marked with NUL above; a literal NUL in a
                // command line cannot come from the shell anyway).
                let mut full = Vec::with_capacity(v.len());
                for &b in &v {
                    if b == 0 {
                        full.extend_from_slice(&data);
                    } else {
                        full.push(b);
                    }
                }
                bytes.extend_from_slice(format!("${}\r\n", full.len()).as_bytes());
                bytes.extend_from_slice(&full);
                bytes.extend_from_slice(b"\r\n");
                continue;
            }
            if arg.matches(KEY).count() > MAX_KEYS_PER_ARG {
                return Err(format!(
                    "at most {MAX_KEYS_PER_ARG} {KEY} placeholders in one argument"
                ));
            }
            push_const(&mut bytes, &mut parts, &mut const_start);
            let a = segs.len() as u32;
            segments(arg, &mut bytes, &mut segs);
            let b = segs.len() as u32;
            let mut fixed = 0usize;
            for s in &segs[a as usize..b as usize] {
                match s {
                    Seg::Lit(x, y) => fixed += (y - x) as usize,
                    Seg::Key => {
                        keys += 1;
                        fixed += prefix.len();
                    }
                    Seg::Data => fixed += data.len(),
                }
            }
            parts.push(Part::Dynamic {
                a,
                b,
                fixed: fixed as u32,
            });
            // Literal pieces live in `bytes` but are not part of a Const run.
            const_start = bytes.len() as u32;
        }
        push_const(&mut bytes, &mut parts, &mut const_start);
        Ok(Template {
            bytes,
            parts,
            segs,
            data,
            prefix: prefix.to_vec(),
            width,
            keys,
            name: args[0].to_ascii_uppercase(),
        })
    }

    /// Writes one request to `out`; `key` is called once per key placeholder, in order.
    #[inline]
    pub fn fill(&self, out: &mut Vec<u8>, mut key: impl FnMut() -> u64) {
        let mut nums = [0u64; MAX_KEYS_PER_ARG];
        for part in &self.parts {
            match *part {
                Part::Const(a, b) => out.extend_from_slice(&self.bytes[a as usize..b as usize]),
                Part::Dynamic { a, b, fixed } => {
                    let segs = &self.segs[a as usize..b as usize];
                    // Draw this argument's keys first: the length header needs them.
                    let mut len = fixed as usize;
                    let mut n = 0;
                    for s in segs {
                        if *s == Seg::Key {
                            let k = key();
                            len += digits(k).max(self.width);
                            nums[n] = k;
                            n += 1;
                        }
                    }
                    out.push(b'$');
                    let mut ib = itoa::Buffer::new();
                    out.extend_from_slice(ib.format(len).as_bytes());
                    out.extend_from_slice(b"\r\n");
                    let mut i = 0;
                    for s in segs {
                        match *s {
                            Seg::Lit(x, y) => {
                                out.extend_from_slice(&self.bytes[x as usize..y as usize])
                            }
                            Seg::Data => out.extend_from_slice(&self.data),
                            Seg::Key => {
                                out.extend_from_slice(&self.prefix);
                                let k = nums[i];
                                i += 1;
                                let d = ib.format(k).as_bytes();
                                for _ in d.len()..self.width {
                                    out.push(b'0');
                                }
                                out.extend_from_slice(d);
                            }
                        }
                    }
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        split_args(s).unwrap()
    }

    #[test]
    fn splitting() {
        assert_eq!(args("SET  a b"), ["SET", "a", "b"]);
        assert_eq!(args("SET k \"hello world\""), ["SET", "k", "hello world"]);
        assert_eq!(args("SET k \"\""), ["SET", "k", ""]);
        assert_eq!(args("SET k \"a\\\"b\""), ["SET", "k", "a\"b"]);
        assert_eq!(args("SET pre\"x y\"post"), ["SET", "prex ypost"]);
        assert!(split_args("SET \"oops").is_err());
        assert!(split_args("   ").is_err());
    }

    fn fill(t: &Template, keys: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut it = keys.iter();
        t.fill(&mut out, || *it.next().expect("enough keys"));
        assert!(it.next().is_none(), "all keys used");
        out
    }

    #[test]
    fn set_get_templates() {
        let t = Template::new(&args("SET __key__ __data__"), b"memtier-", 0, 5).unwrap();
        assert_eq!(t.keys, 1);
        assert_eq!(t.name, "SET");
        assert_eq!(
            fill(&t, &[42]),
            b"*3\r\n$3\r\nSET\r\n$10\r\nmemtier-42\r\n$5\r\n01234\r\n"
        );
        assert_eq!(
            fill(&t, &[1234567]),
            b"*3\r\n$3\r\nSET\r\n$15\r\nmemtier-1234567\r\n$5\r\n01234\r\n"
        );
        let t = Template::new(&args("get __key__"), b"k:", 8, 5).unwrap();
        assert_eq!(t.name, "GET");
        assert_eq!(fill(&t, &[7]), b"*2\r\n$3\r\nget\r\n$10\r\nk:00000007\r\n");
        // Wider numbers than the width are not cut.
        assert_eq!(
            fill(&t, &[123456789]),
            b"*2\r\n$3\r\nget\r\n$11\r\nk:123456789\r\n"
        );
    }

    #[test]
    fn several_keys_and_embedded_placeholders() {
        let t = Template::new(&args("MSET __key__ __data__ __key__ __data__"), b"p", 0, 2).unwrap();
        assert_eq!(t.keys, 2);
        assert_eq!(
            fill(&t, &[1, 22]),
            b"*5\r\n$4\r\nMSET\r\n$2\r\np1\r\n$2\r\n01\r\n$3\r\np22\r\n$2\r\n01\r\n"
        );
        let t = Template::new(
            &args("HSET h:__key__ \"f x\" v-__data__-__key__"),
            b"",
            3,
            3,
        )
        .unwrap();
        assert_eq!(t.keys, 2);
        assert_eq!(
            fill(&t, &[5, 6]),
            b"*4\r\n$4\r\nHSET\r\n$5\r\nh:005\r\n$3\r\nf x\r\n$9\r\nv-012-006\r\n"
        );
        let t = Template::new(&args("PING"), b"x", 0, 1).unwrap();
        assert_eq!(t.keys, 0);
        assert_eq!(fill(&t, &[]), b"*1\r\n$4\r\nPING\r\n");
        let t = Template::new(&args("ECHO a__data__b"), b"x", 0, 3).unwrap();
        assert_eq!(fill(&t, &[]), b"*2\r\n$4\r\nECHO\r\n$5\r\na012b\r\n");
        let many = format!("ECHO {}", "__key__".repeat(17));
        assert!(Template::new(&args(&many), b"x", 0, 3).is_err());
        let t = Template::new(&args(&format!("ECHO {}", "__key__".repeat(16))), b"", 0, 3).unwrap();
        let keys: Vec<u64> = (0..16).collect();
        let out = fill(&t, &keys);
        assert!(out.ends_with(b"$22\r\n0123456789101112131415\r\n"));
        let t = Template::new(&args("ECHO a__data__b"), b"x", 0, 3).unwrap();
        assert_eq!(fill(&t, &[]), b"*2\r\n$4\r\nECHO\r\n$5\r\na012b\r\n");
    }
}
