//! `Serialize`/`Deserialize` for the persistent collections (feature `serde`).
//!
//! `HashMap` and `OrdMap` are maps; `PrefixMap` is a sequence of `(bytes, bits, value)`.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::{HashMap, OrdMap, PrefixMap};

impl<K: Serialize, V: Serialize, S> Serialize for HashMap<K, V, S> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<K: Serialize, V: Serialize> Serialize for OrdMap<K, V> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<V: Serialize> Serialize for PrefixMap<V> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for (bytes, bits, v) in self.iter() {
            seq.serialize_element(&(bytes, bits, v))?;
        }
        seq.end()
    }
}

/// What a visitor builds, and from which entries.
type Builds<M, K, V> = PhantomData<fn(K, V) -> M>;

/// Collects a serialized map through `insert`.
struct MapVisitor<M, K, V> {
    expecting: &'static str,
    marker: Builds<M, K, V>,
}

trait Insert<K, V>: Default {
    fn put(&mut self, k: K, v: V);
}

impl<K: Hash + Eq + Clone, V: Clone, S: BuildHasher + Default> Insert<K, V> for HashMap<K, V, S> {
    fn put(&mut self, k: K, v: V) {
        self.insert(k, v);
    }
}

impl<K: Ord + Clone, V: Clone> Insert<K, V> for OrdMap<K, V> {
    fn put(&mut self, k: K, v: V) {
        self.insert(k, v);
    }
}

impl<'de, M, K, V> Visitor<'de> for MapVisitor<M, K, V>
where
    M: Insert<K, V>,
    K: Deserialize<'de>,
    V: Deserialize<'de>,
{
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<M, A::Error> {
        let mut map = M::default();
        while let Some((k, v)) = access.next_entry()? {
            map.put(k, v);
        }
        Ok(map)
    }
}

impl<'de, K, V, S> Deserialize<'de> for HashMap<K, V, S>
where
    K: Deserialize<'de> + Hash + Eq + Clone,
    V: Deserialize<'de> + Clone,
    S: BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MapVisitor {
            expecting: "a map",
            marker: PhantomData,
        })
    }
}

impl<'de, K, V> Deserialize<'de> for OrdMap<K, V>
where
    K: Deserialize<'de> + Ord + Clone,
    V: Deserialize<'de> + Clone,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MapVisitor {
            expecting: "a map",
            marker: PhantomData,
        })
    }
}

struct PrefixVisitor<V>(PhantomData<fn() -> V>);

impl<'de, V: Deserialize<'de> + Clone> Visitor<'de> for PrefixVisitor<V> {
    type Value = PrefixMap<V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of (bytes, bits, value)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<PrefixMap<V>, A::Error> {
        let mut map = PrefixMap::new();
        while let Some((bytes, bits, v)) = access.next_element::<(Vec<u8>, u32, V)>()? {
            if bits as usize > bytes.len() * 8 {
                return Err(serde::de::Error::custom(format_args!(
                    "prefix of {bits} bits is longer than its {} bytes",
                    bytes.len()
                )));
            }
            map.insert_bits(&bytes, bits, v);
        }
        Ok(map)
    }
}

impl<'de, V: Deserialize<'de> + Clone> Deserialize<'de> for PrefixMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(PrefixVisitor(PhantomData))
    }
}
