"""Builds the documents' typeface from Debian's Noto Serif CJK SC; run by ensure-fonts.sh.

Chromium copies every font file a page uses into each print job, and the system collection is
26 MB a weight: that copy was most of what a PDF cost. The documents need the characters of
GB2312 and the punctuation around them, so each weight is cut down to those (plus any other
character the document templates contain), renamed so that it is never taken for the system
face, and given TrueType (quadratic) outlines: Chromium embeds a CFF-based font in the PDF as
Type 3 glyph procedures, a TrueType one as a real subset font, and a document shrinks from about
170 KB to 50 KB. A character outside the subset (a rare name such as 王𠮷) falls back to the
system Noto, which the templates name after this family.

    python subset-fonts.py SOURCE_DIR TEMPLATE_DIR OUT_DIR

Writes OUT_DIR/OnedoorSerifGB-{Regular,Bold}.ttf and OUT_DIR/.fingerprint, and does nothing when
the fingerprint of its inputs (this file, fontTools' version, the source fonts, the templates'
extra characters) is that of the fonts already there.
"""

import hashlib
import os
import pathlib
import sys

FAMILY = "Onedoor Serif GB"
POSTSCRIPT = "OnedoorSerifGB"
STYLES = {"Regular": "NotoSerifCJK-Regular.ttc", "Bold": "NotoSerifCJK-Bold.ttc"}
SOURCE_FACE = "Noto Serif CJK SC"
# Largest distance, in font units (1000 to the em), between a cubic curve and its quadratic
# replacement: a thousandth of the em, invisible at any print size.
MAX_ERROR = 1.0

# The features Chromium applies to horizontal text. Leaving out 'locl' and the vertical ones
# drops the Japanese, Korean and traditional forms and the vertical glyphs: half the glyphs.
LAYOUT_FEATURES = ["ccmp", "kern", "liga", "clig", "calt", "mark", "mkmk", "rlig"]

# Blocks printed around the hanzi: ASCII, Latin-1, general punctuation (“” — …), letterlike
# symbols (℃ №), CJK symbols and punctuation (、。〔〕「」), full-width and half-width forms.
RANGES = [
    (0x0020, 0x007E),
    (0x00A0, 0x00FF),
    (0x2000, 0x206F),
    (0x2100, 0x214F),
    (0x3000, 0x303F),
    (0xFF00, 0xFFEF),
]


def gb2312() -> set[str]:
    """Every character of GB2312: 6,763 hanzi and 682 symbols, from all two-byte code points."""
    chars = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass  # an unassigned code point
    return chars


def base_set() -> set[str]:
    chars = gb2312()
    for start, end in RANGES:
        chars.update(chr(c) for c in range(start, end + 1))
    return chars


def template_extras(template_dir: pathlib.Path, base: set[str]) -> set[str]:
    """Characters the document templates print that the base set lacks (SMS and e-mail aside)."""
    files = [*template_dir.glob("*.hbs"), *template_dir.glob("partials/*.hbs")]
    chars = set("".join(f.read_text(encoding="utf-8") for f in files))
    return {c for c in chars if ord(c) >= 0x20 and c not in base}


def fingerprint(source_dir: pathlib.Path, extras: set[str]) -> str:
    import fontTools  # the version only: cheap

    digest = hashlib.sha256()
    digest.update(pathlib.Path(__file__).read_bytes())
    digest.update(fontTools.version.encode())
    for file in STYLES.values():
        stat = (source_dir / file).stat()
        digest.update(f"{file} {stat.st_size} {int(stat.st_mtime)}".encode())
    digest.update("".join(sorted(extras)).encode())
    return digest.hexdigest()


def source_face(path: pathlib.Path):
    from fontTools.ttLib import TTCollection

    for font in TTCollection(str(path)).fonts:
        if font["name"].getDebugName(1) == SOURCE_FACE:
            return font
    raise SystemExit(f"{path}: no face named {SOURCE_FACE}")


def to_truetype(font) -> None:
    """Replaces the CFF outlines by quadratic glyf ones, as fontTools' otf2ttf snippet does."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        # CFF contours run counter-clockwise, TrueType ones clockwise.
        glyph_set[name].draw(Cu2QuPen(pen, MAX_ERROR, reverse_direction=True))
        glyphs[name] = pen.glyph()

    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]  # vertical origins exist for CFF outlines only

    font["head"].glyphDataFormat = 0
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000  # the TrueType maxp; fontTools counts points and contours
    maxp.maxZones = 1
    for field in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    font["post"].formatType = 3.0  # no glyph names (cid00001…): nothing printed needs them
    font.sfntVersion = "\0\1\0\0"


def rename(font, style: str) -> None:
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 2, 3, 4, 6, 16, 17):
            names.removeNames(nameID=record.nameID)
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName(style, 2, 3, 1, 0x409)
    names.setName(f"{POSTSCRIPT}-{style};subset of {SOURCE_FACE}", 3, 3, 1, 0x409)
    names.setName(FAMILY if style == "Regular" else f"{FAMILY} {style}", 4, 3, 1, 0x409)
    names.setName(f"{POSTSCRIPT}-{style}", 6, 3, 1, 0x409)


def build(source: pathlib.Path, style: str, chars: set[str], out: pathlib.Path) -> None:
    from fontTools import subset

    font = source_face(source)
    options = subset.Options()
    options.layout_features = LAYOUT_FEATURES
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # CFF hints mean nothing to a TrueType rasteriser
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes={ord(c) for c in chars})
    subsetter.subset(font)
    to_truetype(font)
    rename(font, style)
    font.recalcTimestamp = False  # keep the source's dates: the same inputs give the same bytes
    font.save(str(out))


def main() -> None:
    source_dir, template_dir, out_dir = (pathlib.Path(a) for a in sys.argv[1:4])
    base = base_set()
    extras = template_extras(template_dir, base)
    wanted = fingerprint(source_dir, extras)
    stamp = out_dir / ".fingerprint"
    outputs = {style: out_dir / f"{POSTSCRIPT}-{style}.ttf" for style in STYLES}
    if (
        stamp.is_file()
        and stamp.read_text().strip() == wanted
        and all(f.is_file() for f in outputs.values())
    ):
        return

    print(f"subset-fonts: building {FAMILY} in {out_dir} (a few minutes)...", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    for style, file in STYLES.items():
        # Written aside and renamed, so a font in place is always a whole one.
        partial = outputs[style].with_suffix(f".{os.getpid()}.tmp")
        build(source_dir / file, style, base | extras, partial)
        partial.replace(outputs[style])
    stamp.write_text(wanted + "\n")


if __name__ == "__main__":
    main()
