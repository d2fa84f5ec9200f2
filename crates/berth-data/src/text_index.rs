//! Distinct strings and their codes, looked up by value without a second
//! copy of each string: the index maps a string's 64-bit hash to its code
//! and the string itself lives once, in `levels`. Two strings with one hash
//! (vanishingly rare, never wrong) keep the later one in a small map of its
//! own. A text column's dictionary is built on it, and so is anything that
//! finds rows by a text key (a prediction log's request ids).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Default, Clone)]
pub struct TextIndex {
    levels: Vec<String>,
    /// Levels `..indexed` are in the index; the rest are added on first use.
    indexed: usize,
    by_hash: HashMap<u64, u32, BuildHasherDefault<Passthrough>>,
    collided: HashMap<String, u32>,
    state: RandomState,
}

impl TextIndex {
    /// The index of `levels` (distinct), each code its position; indexed
    /// when first looked up in.
    pub fn from_levels(levels: Vec<String>) -> TextIndex {
        TextIndex { levels, ..TextIndex::default() }
    }

    pub fn levels(&self) -> &[String] {
        &self.levels
    }

    pub fn into_levels(self) -> Vec<String> {
        self.levels
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    fn catch_up(&mut self) {
        if self.indexed == self.levels.len() {
            return;
        }
        self.by_hash.reserve(self.levels.len() - self.indexed);
        for code in self.indexed..self.levels.len() {
            let h = self.state.hash_one(self.levels[code].as_str());
            if let std::collections::hash_map::Entry::Vacant(e) = self.by_hash.entry(h) {
                e.insert(code as u32);
            } else {
                self.collided.insert(self.levels[code].clone(), code as u32);
            }
        }
        self.indexed = self.levels.len();
    }

    fn find(&self, s: &str, h: u64) -> Option<u32> {
        match self.by_hash.get(&h) {
            Some(&c) if self.levels[c as usize] == s => Some(c),
            Some(_) => self.collided.get(s).copied(),
            None => None,
        }
    }

    /// The code of `s`, if it is a level.
    pub fn get(&mut self, s: &str) -> Option<u32> {
        self.catch_up();
        self.find(s, self.state.hash_one(s))
    }

    /// The code of `s` in an index whose levels are all indexed (after a
    /// [`TextIndex::get`], [`TextIndex::code`] or [`TextIndex::ready`]).
    pub fn lookup(&self, s: &str) -> Option<u32> {
        debug_assert_eq!(self.indexed, self.levels.len(), "index every level first");
        self.find(s, self.state.hash_one(s))
    }

    /// Indexes every level now, so that [`TextIndex::lookup`] can be used.
    pub fn ready(mut self) -> TextIndex {
        self.catch_up();
        self
    }

    /// The code of `s`, made a new level if it is not one.
    pub fn code(&mut self, s: &str) -> u32 {
        self.catch_up();
        let h = self.state.hash_one(s);
        if let Some(c) = self.find(s, h) {
            return c;
        }
        let c = self.levels.len() as u32;
        self.levels.push(s.to_string());
        if let std::collections::hash_map::Entry::Vacant(e) = self.by_hash.entry(h) {
            e.insert(c);
        } else {
            self.collided.insert(s.to_string(), c);
        }
        self.indexed = self.levels.len();
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_first_appearance_and_lookups_find_each_level() {
        let mut t = TextIndex::from_levels(vec!["b".into(), "a".into()]);
        assert_eq!((t.code("a"), t.code("c"), t.code("b"), t.code("c")), (1, 2, 0, 2));
        assert_eq!(t.levels(), ["b", "a", "c"]);
        assert_eq!((t.get("c"), t.get("zz")), (Some(2), None));
    }

    #[test]
    fn strings_with_one_hash_are_told_apart() {
        // Force every string onto one hash: the index must still answer by value.
        let mut t = TextIndex::from_levels(vec!["x".into()]);
        t.catch_up();
        let h = t.state.hash_one("x");
        t.levels.push("y".into());
        t.collided.insert("y".into(), 1);
        t.indexed = 2;
        assert_eq!(t.find("x", h), Some(0));
        assert_eq!(t.find("y", h), Some(1));
        assert_eq!(t.find("z", h), None);
    }
}
