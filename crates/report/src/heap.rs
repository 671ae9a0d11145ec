//! What an interpreter's memory holds (`pycoroner heap`): the objects its garbage
//! collector tracks, counted per type.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One interpreter's census.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heap {
    /// The interpreter (`interp->id`; 0 is the main one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter_id: Option<i64>,
    /// Where the objects were found: `gc` (the collector's lists, what
    /// `gc.get_objects()` returns, plus the permanent generation of `gc.freeze()`).
    pub source: String,
    /// Each list walked.
    pub lists: Vec<HeapList>,
    /// `sys.gettotalrefcount()` of a debug build (on the main interpreter's census:
    /// the total of the process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_refs: Option<i64>,
    /// Objects counted.
    pub objects: u64,
    /// Their total size in bytes (see [`HeapType::exact`]).
    pub size: u64,
    /// Objects whose type could not be read (not counted in `types`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: u64,
    /// Of them, objects whose type pointer is a debug build's freed-memory pattern
    /// (`0xdd...`, `0xdb...` on 3.6): freed while still on the collector's list.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub freed: u64,
    /// Objects per type, largest total size first.
    pub types: Vec<HeapType>,
    /// The objects the collector does not track (`--untracked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untracked: Option<HeapUntracked>,
    /// Every live object, tracked by the collector or not, on a build that lists them
    /// all (`Py_TRACE_REFS`: what `sys.getobjects()` returns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_objects: Option<HeapAll>,
    /// The largest objects, largest first (`--largest N`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub largest: Vec<HeapObject>,
    /// `gc.garbage`: what the collector found unreachable and kept (uncollectable
    /// objects, or all of them under `gc.DEBUG_SAVEALL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garbage: Option<Garbage>,
    /// pymalloc's arenas and pools, as `sys._debugmallocstats()` counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocator: Option<Allocator>,
    /// Why pymalloc's state is not shown, when this build cannot give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocator_unavailable: Option<String>,
}

/// The objects the collector does not track (`str`, `int`, `float`, `bytes`, and the
/// tuples and dicts it stopped tracking), counted through the tracked objects that
/// refer to them: what `gc.get_referents` gives of each, plus a dict's keys, for the
/// types whose references are known exactly (list, tuple, dict, set, cell, function,
/// method, builtin function, module, type, instance attributes and slots). Each object is
/// counted once; one only other types refer to is not seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeapUntracked {
    /// Objects counted.
    pub objects: u64,
    /// Their total size in bytes.
    pub size: u64,
    /// Referred-to objects whose type could not be read (in `objects`, not in `types`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: u64,
    /// Objects per type, largest total size first (`frozen` is always 0).
    pub types: Vec<HeapType>,
}

/// Every live object of a `Py_TRACE_REFS` build, from the list it keeps of them
/// (`refchain`, what `sys.getobjects()` walks), counted per type. Unlike the
/// collector's lists, it holds str, int, float and every other object, and objects no
/// other object refers to (leaked references).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeapAll {
    /// The list walked (`all objects`), and why it stopped short if it did.
    pub list: HeapList,
    /// Objects counted.
    pub objects: u64,
    /// Their total size in bytes (see [`HeapType::exact`]).
    pub size: u64,
    /// Objects whose type could not be read (in `objects`, not in `types`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreadable: u64,
    /// Of them, objects whose type pointer is a debug build's freed-memory pattern.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub freed: u64,
    /// Objects per type, largest total size first (`frozen` is always 0).
    pub types: Vec<HeapType>,
}

/// pymalloc (the allocator of objects of 512 bytes or less).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allocator {
    /// Arenas allocated now.
    pub arenas: u64,
    /// Arenas allocated since the start (those not allocated now were reclaimed).
    pub arenas_allocated_total: u64,
    /// Most arenas allocated at once.
    pub arenas_highwater: u64,
    /// Pools no size class uses.
    pub free_pools: u64,
    /// Bytes per pool.
    pub pool_size: u64,
    /// The size classes with pools in use.
    pub classes: Vec<SizeClass>,
    /// Pools whose header could not be read or names no size class.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bad_pools: u64,
}

/// One size class of pymalloc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SizeClass {
    /// Its index (`szidx`).
    pub class: u32,
    /// Its block size in bytes.
    pub size: u64,
    /// Pools in use.
    pub pools: u64,
    /// Blocks in use.
    pub blocks: u64,
    /// Blocks free in those pools.
    pub free: u64,
}

/// `gc.garbage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Garbage {
    /// `len(gc.garbage)`.
    pub count: u64,
    /// Its first objects (at most 100): address, type and a short repr.
    pub objects: Vec<GarbageObject>,
}

/// An object of `gc.garbage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GarbageObject {
    /// Its address (`id()`).
    pub address: u64,
    /// Its type's name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// A short `repr()`.
    pub repr: String,
    /// Its reference count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refcount: Option<i64>,
}

/// One object of the heap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeapObject {
    /// Its address (`id()`).
    pub address: u64,
    /// Its type's name, as in [`HeapType::name`].
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its size in bytes (see `exact`).
    pub size: u64,
    /// `size` is `sys.getsizeof`'s (else the basic size, a lower bound).
    pub exact: bool,
    /// Items of a list, tuple, dict or set; characters of a str, bytes of a bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    /// A short `repr()` (cut at 120 characters).
    pub repr: String,
    /// Its reference count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refcount: Option<i64>,
    /// Immortal (3.12+): its count means nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immortal: bool,
    /// Not tracked by the collector (found through an object that refers to it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One list of the collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeapList {
    /// `generation 0`, `generation 1`, `generation 2`, `permanent`.
    pub name: String,
    /// Objects on it.
    pub objects: u64,
    /// Where and why its walk stopped before its end (a corrupt link, unreadable
    /// memory, the walk's cap): what it counted is still counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<String>,
}

/// The objects of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeapType {
    /// The type's name with its module (`myapp.models.Order`; built-in types bare).
    pub name: String,
    /// Address of the type object.
    pub address: u64,
    /// How many objects.
    pub count: u64,
    /// Their total size in bytes.
    pub size: u64,
    /// Of them, on the permanent generation (`gc.freeze()`), which `gc.get_objects()`
    /// leaves out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub frozen: u64,
    /// Their size.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub frozen_size: u64,
    /// `size` is what `sys.getsizeof` gives, summed; false where the type has its own
    /// `__sizeof__` (dict, set, ...), whose extra memory is not counted: then `size`
    /// is the basic sizes, a lower bound.
    pub exact: bool,
}

/// Two censuses compared (`pycoroner heap --diff A B`): what grew from A to B.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeapDiff {
    /// Where the first census came from (a core, a JSON census file, a sample).
    pub before: String,
    /// Where the second did.
    pub after: String,
    /// Objects counted in each.
    pub objects: [u64; 2],
    /// Their total sizes.
    pub size: [u64; 2],
    /// Each type whose count or size changed (matched by name), most growth in
    /// size first, then in count; the untracked objects' types too when both
    /// censuses counted them (`--untracked`).
    pub types: Vec<HeapTypeDiff>,
}

/// One type in two censuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeapTypeDiff {
    /// The type's name, as in [`HeapType::name`].
    pub name: String,
    /// Its count before and after.
    pub count: [u64; 2],
    /// Its total size before and after.
    pub size: [u64; 2],
    /// Objects of it the collector does not track (counted with `--untracked`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
}

impl HeapTypeDiff {
    /// Objects gained (negative: lost).
    pub fn count_growth(&self) -> i128 {
        i128::from(self.count[1]) - i128::from(self.count[0])
    }

    /// Bytes gained (negative: freed).
    pub fn size_growth(&self) -> i128 {
        i128::from(self.size[1]) - i128::from(self.size[0])
    }
}

impl HeapDiff {
    /// Compare two censuses of the same program, type by type.
    pub fn between(before: (&str, &Heap), after: (&str, &Heap)) -> HeapDiff {
        let mut by_name: std::collections::BTreeMap<(bool, &str), HeapTypeDiff> = std::collections::BTreeMap::new();
        // The untracked objects only when both counted them (else all would look new).
        let both = before.1.untracked.is_some() && after.1.untracked.is_some();
        for (side, h) in [(0usize, before.1), (1, after.1)] {
            let untracked = h.untracked.iter().filter(|_| both).flat_map(|u| u.types.iter().map(|t| (true, t)));
            for (loose, t) in h.types.iter().map(|t| (false, t)).chain(untracked) {
                let d = by_name.entry((loose, t.name.as_str())).or_insert_with(|| HeapTypeDiff { name: t.name.clone(), count: [0, 0], size: [0, 0], untracked: loose });
                // Two types may share a name (a class defined twice): their sums.
                if let (Some(c), Some(s)) = (d.count.get_mut(side), d.size.get_mut(side)) {
                    *c = c.saturating_add(t.count);
                    *s = s.saturating_add(t.size);
                }
            }
        }
        let mut types: Vec<HeapTypeDiff> = by_name.into_values().filter(|d| d.count[0] != d.count[1] || d.size[0] != d.size[1]).collect();
        types.sort_by(|a, b| b.size_growth().cmp(&a.size_growth()).then(b.count_growth().cmp(&a.count_growth())).then(a.name.cmp(&b.name)));
        HeapDiff {
            before: before.0.to_string(),
            after: after.0.to_string(),
            objects: [before.1.objects, after.1.objects],
            size: [before.1.size, after.1.size],
            types,
        }
    }
}

/// Who refers to one object (`pycoroner referrers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Referrers {
    /// The object's address.
    pub address: u64,
    /// Its type's name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// A short `repr()` of it.
    pub repr: String,
    /// The objects the collector tracks that refer to it directly
    /// (`gc.get_referrers`), with how.
    pub direct: Vec<PathStep>,
    /// Paths from roots (a module's globals, a frame's local, a type) down to it,
    /// shortest first.
    pub paths: Vec<ReferrerPath>,
    /// Levels searched up from the object.
    pub levels: usize,
    /// Why the search stopped short, if a cap stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
}

/// One path from a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferrerPath {
    /// Where it starts: `module __main__`, `thread 0x... [MainThread] frame main → local 'x'`, `type Order`.
    pub root: String,
    /// Its objects, from the root's down to the one asked about.
    pub steps: Vec<PathStep>,
}

/// An object of a path, and how the one before it refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathStep {
    /// Its address.
    pub address: u64,
    /// Its type's name.
    #[serde(rename = "type")]
    pub type_name: String,
    /// How the previous object refers to it (`['orders']`, `[3]`, `.cache`,
    /// `.cell_contents`, `+0x18`); for a direct referrer, how it refers to the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The reference is a word of the referrer's body that holds the address (a type
    /// whose fields pycoroner does not know): possibly not a reference.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub possible: bool,
}
