//! Round trips of the persistent collections through serde (JSON). Run with
//! `--features serde`.
#![cfg(feature = "serde")]

use cowstore::collections::{HashMap, OrdMap, PrefixMap};

#[test]
fn hash_map_round_trip() {
    let map: HashMap<String, Vec<u32>> = (0..200)
        .map(|i| (format!("k{i}"), vec![i, i + 1]))
        .collect();
    let json = serde_json::to_string(&map).unwrap();
    let back: HashMap<String, Vec<u32>> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, map);
    let as_std: std::collections::HashMap<String, Vec<u32>> = serde_json::from_str(&json).unwrap();
    assert_eq!(as_std.len(), 200);
    assert_eq!(as_std["k7"], [7, 8]);
}

#[test]
fn ord_map_round_trip_keeps_order() {
    let map: OrdMap<u32, bool> = (0..100).map(|i| (i * 3, i % 2 == 0)).collect();
    let json = serde_json::to_string(&map).unwrap();
    assert!(
        json.starts_with(r#"{"0":true,"3":false,"6":true"#),
        "{json}"
    );
    let back: OrdMap<u32, bool> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, map);
}

#[test]
fn prefix_map_round_trip() {
    let mut map = PrefixMap::new();
    map.insert_bits(&[10, 0, 0, 0], 8, "a".to_string());
    map.insert_bits(&[10, 16, 0, 0], 12, "b".to_string());
    map.insert(b"/api/", "c".to_string());
    let json = serde_json::to_string(&map).unwrap();
    let back: PrefixMap<String> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, map);
    assert_eq!(
        back.longest_match(&[10, 17, 1, 1]),
        Some((12, &"b".to_string()))
    );
    let bad = serde_json::from_str::<PrefixMap<u8>>(r#"[[[1], 9, 0]]"#);
    assert!(bad.is_err());
}
