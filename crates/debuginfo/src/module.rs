//! Modules of a target: mapped ELF files, their load bias and build-id as seen in
//! the target's own memory (the kernel dumps the first page of every ELF mapping).

use pycoroner_target::{FileMapping, Memory, MemoryExt, RemoteAddr};

/// One mapped ELF file of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Path as the target recorded it.
    pub path: String,
    /// Lowest mapped address.
    pub base: u64,
    /// One past the highest mapped address.
    pub end: u64,
    /// AVMA = SVMA + bias.
    pub bias: u64,
    /// Build-id read from the target's memory, if its note page was dumped.
    pub build_id: Option<Vec<u8>>,
}

impl Module {
    /// The file name part of the path.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// True if `addr` falls inside this module's mappings.
    pub fn contains(&self, addr: u64) -> bool {
        self.base <= addr && addr < self.end
    }
}

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const MAX_PHNUM: u64 = 256;

struct Phdr {
    p_type: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

fn read_phdrs(mem: &dyn Memory, base: u64) -> Option<Vec<Phdr>> {
    let b = RemoteAddr(base);
    let magic = mem.read_array::<4>(b).ok()?;
    if &magic != b"\x7FELF" || mem.read_u8(b.offset(4)?).ok()? != 2 {
        return None;
    }
    let phoff = mem.read_u64(b.offset(32)?).ok()?;
    let phentsize = u64::from(mem.read_u16(b.offset(54)?).ok()?);
    let phnum = u64::from(mem.read_u16(b.offset(56)?).ok()?);
    if phentsize < 56 || phnum > MAX_PHNUM {
        return None;
    }
    let mut out = Vec::new();
    for i in 0..phnum {
        let p = b.offset(phoff.checked_add(i.checked_mul(phentsize)?)?)?;
        out.push(Phdr {
            p_type: mem.read_u32(p).ok()?,
            offset: mem.read_u64(p.offset(8)?).ok()?,
            vaddr: mem.read_u64(p.offset(16)?).ok()?,
            filesz: mem.read_u64(p.offset(32)?).ok()?,
        });
    }
    Some(out)
}

/// The load bias of the ELF mapped at `base`, from its in-memory program headers.
fn bias_from_memory(mem: &dyn Memory, base: u64) -> Option<u64> {
    let ph = read_phdrs(mem, base)?;
    let first = ph.iter().find(|p| p.p_type == PT_LOAD && p.offset == 0)?;
    Some(base.wrapping_sub(first.vaddr & !0xfff))
}

/// NT_GNU_BUILD_ID of the ELF mapped at `base`, read from the target's memory.
pub fn build_id_from_memory(mem: &dyn Memory, base: u64) -> Option<Vec<u8>> {
    let bias = bias_from_memory(mem, base)?;
    for p in read_phdrs(mem, base)?.iter().filter(|p| p.p_type == PT_NOTE) {
        let len = p.filesz.min(4096);
        let bytes = mem.read_vec(RemoteAddr(p.vaddr.wrapping_add(bias)), len, 4096).ok()?;
        let mut off = 0usize;
        while off + 12 <= bytes.len() {
            let word = |o: usize| -> Option<usize> {
                Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?) as usize)
            };
            let (namesz, descsz, ntype) = (word(off)?, word(off + 4)?, word(off + 8)?);
            let name_start = off + 12;
            let desc_start = name_start.checked_add(namesz.checked_add(3)? & !3)?;
            let next = desc_start.checked_add(descsz.checked_add(3)? & !3)?;
            if ntype == 3 && bytes.get(name_start..name_start + namesz.min(4)) == Some(b"GNU\0") {
                return bytes.get(desc_start..desc_start.checked_add(descsz)?).map(<[u8]>::to_vec);
            }
            off = next;
        }
    }
    None
}

/// Group file mappings into modules: one per path whose first page is an ELF header.
pub fn modules_of(mem: &dyn Memory, mappings: &[FileMapping]) -> Vec<Module> {
    let mut out: Vec<Module> = Vec::new();
    for m in mappings {
        if let Some(existing) = out.iter_mut().find(|x| x.path == m.path) {
            existing.base = existing.base.min(m.start);
            existing.end = existing.end.max(m.end);
            continue;
        }
        out.push(Module { path: m.path.clone(), base: m.start, end: m.end, bias: 0, build_id: None });
    }
    out.retain_mut(|module| {
        // The mapping with file offset 0 holds the ELF header.
        let Some(head) = mappings.iter().find(|m| m.path == module.path && m.file_offset == 0) else {
            return false;
        };
        match bias_from_memory(mem, head.start) {
            Some(bias) => {
                module.bias = bias;
                module.build_id = build_id_from_memory(mem, head.start);
                true
            }
            None => false,
        }
    });
    out
}
