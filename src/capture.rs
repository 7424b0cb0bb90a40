//! Bounded holding of what child processes print: whatever a test or cargo writes, cargo-xtest's
//! memory stays bounded. [`LineBuffer`] splits a stream into lines, keeping at most a set number
//! of bytes of any one line; [`Capture`] keeps the head and the tail of a stream and counts what
//! it left out, which the rendered text says.

/// How much of one line of a test's output is kept (the rest of that line is counted, not kept).
pub(crate) const TEST_LINE: usize = 64 * 1024;
/// How much of one line of cargo's JSON is kept: a message is one line, and some are large.
pub(crate) const CARGO_LINE: usize = 16 * 1024 * 1024;

/// The mark put where an overlong line was cut; what follows it is the line's end.
pub(crate) const CUT: &str = " [… cut: ";

/// Splits a byte stream into lines, keeping at most `limit` bytes of any one line: its start and
/// its end (where libtest puts a test's verdict after the test's own unterminated output).
#[derive(Debug)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    /// The end of an overlong line (at most a quarter of `limit`).
    end: Vec<u8>,
    /// Bytes of the current line neither in `buf` nor in `end`.
    dropped: usize,
    /// Bytes of the current line as it came, kept or not.
    size: usize,
    limit: usize,
}

impl Default for LineBuffer {
    fn default() -> Self {
        LineBuffer::with_limit(CARGO_LINE)
    }
}

impl LineBuffer {
    pub(crate) fn with_limit(limit: usize) -> Self {
        LineBuffer {
            buf: Vec::new(),
            end: Vec::new(),
            dropped: 0,
            size: 0,
            limit,
        }
    }

    /// The complete lines `data` finishes, without their newlines.
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<String> {
        self.push_sized(data).into_iter().map(|(l, _)| l).collect()
    }

    /// The complete lines `data` finishes, without their newlines, each with the number of
    /// bytes it had as it came (its newline included), however much of it was kept.
    pub(crate) fn push_sized(&mut self, data: &[u8]) -> Vec<(String, usize)> {
        let mut lines = Vec::new();
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            self.append(&rest[..pos]);
            self.size += 1;
            let size = self.size;
            lines.push((self.take(), size));
            rest = &rest[pos + 1..];
        }
        self.append(rest);
        lines
    }

    fn append(&mut self, data: &[u8]) {
        self.size += data.len();
        let head = self.limit - self.limit / 4;
        let room = head.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
        let over = &data[data.len().min(room)..];
        if over.is_empty() {
            return;
        }
        let keep = self.limit / 4;
        self.end.extend_from_slice(over);
        if self.end.len() > 2 * keep {
            let cut = self.end.len() - keep;
            self.dropped += cut;
            self.end.drain(..cut);
        }
    }

    fn take(&mut self) -> String {
        let mut line = String::from_utf8_lossy(&self.buf).into_owned();
        let keep = self.limit / 4;
        if self.end.len() > keep {
            let cut = self.end.len() - keep;
            self.dropped += cut;
            self.end.drain(..cut);
        }
        if self.dropped > 0 {
            line.push_str(&format!("{CUT}{} bytes …] ", self.dropped));
        }
        line.push_str(&String::from_utf8_lossy(&self.end));
        self.buf.clear();
        self.end.clear();
        self.dropped = 0;
        self.size = 0;
        line
    }

    /// The unterminated tail, if any.
    pub(crate) fn rest(&mut self) -> Option<String> {
        self.rest_sized().map(|(l, _)| l)
    }

    /// The unterminated tail, if any, with its size as it came.
    pub(crate) fn rest_sized(&mut self) -> Option<(String, usize)> {
        (!self.buf.is_empty() || !self.end.is_empty()).then(|| {
            let size = self.size;
            (self.take(), size)
        })
    }

    /// The start of the unterminated tail, without consuming it.
    pub(crate) fn partial(&self) -> &[u8] {
        &self.buf
    }
}

/// The first `head` and the last `tail` bytes of a stream, and how many were left between.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    head: Vec<u8>,
    /// Up to twice `tail_limit` bytes, trimmed to the last `tail_limit` when read.
    tail: Vec<u8>,
    head_limit: usize,
    tail_limit: usize,
    total: usize,
}

impl Capture {
    pub(crate) fn new(head: usize, tail: usize) -> Self {
        Capture {
            head: Vec::new(),
            tail: Vec::new(),
            head_limit: head,
            tail_limit: tail,
            total: 0,
        }
    }

    /// For what a test process prints: 64 KiB from its start and 64 KiB from its end.
    pub(crate) fn for_output() -> Self {
        Capture::new(64 * 1024, 64 * 1024)
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        self.total += data.len();
        let room = self.head_limit.saturating_sub(self.head.len());
        let (to_head, rest) = data.split_at(data.len().min(room));
        self.head.extend_from_slice(to_head);
        let rest = &rest[rest.len().saturating_sub(self.tail_limit)..];
        self.tail.extend_from_slice(rest);
        // Trimmed only when twice the limit, so each byte is moved at most once on average.
        if self.tail.len() > 2 * self.tail_limit {
            let cut = self.tail.len() - self.tail_limit;
            self.tail.drain(..cut);
        }
    }

    fn tail(&self) -> &[u8] {
        &self.tail[self.tail.len().saturating_sub(self.tail_limit)..]
    }

    /// Every byte pushed so far.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Bytes left out between the head and the tail.
    pub(crate) fn omitted(&self) -> usize {
        self.total - self.head.len() - self.tail().len()
    }

    /// The text kept, saying how much was left out where it was.
    pub(crate) fn text(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.head).into_owned();
        if self.omitted() > 0 {
            out.push_str(&format!(
                "\n[… {} bytes omitted: {} in all …]\n",
                self.omitted(),
                self.total
            ));
        }
        out.push_str(&String::from_utf8_lossy(self.tail()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_across_chunks_and_bounded() {
        let mut b = LineBuffer::with_limit(8);
        assert_eq!(b.push(b"ab"), Vec::<String>::new());
        assert_eq!(b.push(b"c\nd"), ["abc"]);
        // 6 bytes of the start and 2 of the end are kept: the end holds libtest's verdict.
        assert_eq!(
            b.push(b"0123456789abcdFAILED\nx"),
            ["d01234 [… cut: 13 bytes …] ED"]
        );
        let mut long = LineBuffer::with_limit(64);
        let mut line = b"test t ... ".to_vec();
        line.extend(std::iter::repeat_n(b'x', 1 << 20));
        line.extend(b"FAILED\n");
        let got = long.push(&line);
        assert!(
            got[0].starts_with("test t ... xx") && got[0].ends_with("xxFAILED"),
            "{got:?}"
        );
        assert!(got[0].len() < 120);
        assert_eq!(b.partial(), b"x");
        assert_eq!(b.rest().as_deref(), Some("x"));
        assert_eq!(b.rest(), None);
    }

    #[test]
    fn capture_keeps_head_and_tail_and_counts_the_rest() {
        let mut c = Capture::new(4, 3);
        c.push(b"ab");
        assert_eq!(c.text(), "ab");
        for chunk in [&b"cdefg"[..], b"hij", b"klmnopq"] {
            c.push(chunk);
        }
        assert_eq!(c.total(), 17);
        assert_eq!(c.omitted(), 10);
        assert_eq!(c.text(), "abcd\n[… 10 bytes omitted: 17 in all …]\nopq");
        // A gigabyte goes through, the capture stays at head + tail.
        let mut big = Capture::new(16, 16);
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..1024 {
            big.push(&chunk);
        }
        assert_eq!(big.total(), 1 << 30);
        assert!(big.text().len() < 200);
    }
}
