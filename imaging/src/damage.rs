//! Seeded damage for the tests that feed broken files to the decoders: the same damaged
//! copies on every run, so a failure can be replayed.

/// A xorshift generator and the kinds of damage real uploads show.
pub(crate) struct Damage {
    state: u64,
}

impl Damage {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed.max(1) }
    }

    /// A number below `bound`.
    pub(crate) fn next(&mut self, bound: usize) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        usize::try_from(self.state % bound as u64).unwrap_or(0)
    }

    /// A copy of `original` with one kind of damage: a few bytes overwritten, one bit
    /// flipped at or after `flip_from` (a JPEG's entropy-coded data, say), a run of bytes
    /// deleted, or the end cut off.
    pub(crate) fn copy(&mut self, original: &[u8], flip_from: usize) -> Vec<u8> {
        let mut bytes = original.to_vec();
        match self.next(4) {
            0 => {
                for _ in 0..=self.next(4) {
                    let at = self.next(bytes.len());
                    bytes[at] = u8::try_from(self.next(256)).unwrap_or(0);
                }
            }
            1 => {
                let from = flip_from.min(bytes.len() - 1);
                let at = from + self.next(bytes.len() - from);
                bytes[at] ^= 1 << self.next(8);
            }
            2 => {
                let at = self.next(bytes.len());
                let end = (at + 1 + self.next(32)).min(bytes.len());
                bytes.drain(at..end);
            }
            _ => bytes.truncate(self.next(bytes.len())),
        }
        bytes
    }
}
