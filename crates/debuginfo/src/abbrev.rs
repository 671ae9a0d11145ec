//! Reading `.debug_abbrev` declarations one at a time, for the readers that need one
//! table's forms or one declaration without parsing (and allocating) whole tables.

/// Read one abbreviation declaration from `r`: its code (0: the end of the table) and,
/// into `forms` (cleared first), the form of each attribute. `None`: malformed.
pub(crate) fn declaration<R: gimli::Reader>(r: &mut R, forms: &mut Vec<u64>) -> Option<u64> {
    forms.clear();
    let code = r.read_uleb128().ok()?;
    if code == 0 {
        return Some(0);
    }
    r.read_uleb128().ok()?; // tag
    r.read_u8().ok()?; // children
    loop {
        let name = r.read_uleb128().ok()?;
        let form = r.read_uleb128().ok()?;
        if name == 0 && form == 0 {
            return Some(code);
        }
        if form == u64::from(gimli::DW_FORM_implicit_const.0) {
            r.read_sleb128().ok()?;
        }
        forms.push(form);
    }
}
