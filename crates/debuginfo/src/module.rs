//! Modules of a target: mapped ELF files, their load bias and build-id as seen in
//! the target's own memory (the kernel dumps the first page of every ELF mapping).

use std::collections::HashMap;

use pycoroner_process::elf_ident;
use pycoroner_process::{FileMapping, Memory, Target};

use crate::ElfImage;

/// One mapped ELF file of the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Path as the target recorded it.
    pub path: String,
    /// Lowest mapped address.
    pub base: u64,
    /// One past the highest mapped address.
    pub end: u64,
    /// Start of the mapping at file offset 0, where the ELF header is.
    pub head: u64,
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

/// Group file mappings into modules: one per path whose first page is an ELF header.
/// Linear in the number of mappings (a process can have 65 530 of them).
pub fn modules_of(mem: &dyn Memory, mappings: &[FileMapping]) -> Vec<Module> {
    let mut out: Vec<Module> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut heads: Vec<Option<u64>> = Vec::new();
    for m in mappings {
        let i = *index.entry(m.path.as_str()).or_insert_with(|| {
            out.push(Module { path: m.path.clone(), base: m.start, end: m.end, head: m.start, bias: 0, build_id: None });
            heads.push(None);
            out.len().saturating_sub(1)
        });
        let (Some(module), Some(head)) = (out.get_mut(i), heads.get_mut(i)) else { continue };
        module.base = module.base.min(m.start);
        module.end = module.end.max(m.end);
        // The mapping with file offset 0 holds the ELF header.
        if m.file_offset == 0 && head.is_none() {
            *head = Some(m.start);
        }
    }
    out.into_iter()
        .zip(heads)
        .filter_map(|(mut module, head)| {
            let head = head?;
            module.head = head;
            module.bias = elf_ident::bias_in_memory(mem, head)?;
            module.build_id = elf_ident::build_id_in_memory(mem, head);
            Some(module)
        })
        .collect()
}

/// NT_GNU_BUILD_ID of the ELF mapped at `base`, read from the target's memory.
pub fn build_id_from_memory(mem: &dyn Memory, base: u64) -> Option<Vec<u8>> {
    elf_ident::build_id_in_memory(mem, base)
}

/// Open the file of a module as this machine has it, and use it only if it is the file
/// the target mapped: the same build-id as the target's memory shows, or (for an image
/// without one) the same first page. Otherwise the reason, for the report.
pub fn open_module_image(target: &dyn Target, module: &Module) -> Result<ElfImage, String> {
    let opened = target.open_file(&module.path).map_err(|e| e.to_string())?;
    let img = ElfImage::from_opened(opened).map_err(|e| e.to_string())?;
    verify_module_image(target, module, &img)?;
    Ok(img)
}

/// Whether `img` is the file `module` was mapped from (see [`open_module_image`]).
pub fn verify_module_image(mem: &dyn Memory, module: &Module, img: &ElfImage) -> Result<(), String> {
    let target_page = || elf_ident::first_page(mem, module.head);
    let file_page = |n: usize| img.data().get(..n).map(<[u8]>::to_vec);
    elf_ident::same_image(module.build_id.as_deref(), img.build_id(), target_page, file_page)
        .map_err(|why| format!("{} {why}: not used", img.path().display()))
}
