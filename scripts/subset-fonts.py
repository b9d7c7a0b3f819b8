"""Builds the documents' reduced typeface from Debian's Noto Serif CJK SC (run by ensure-fonts.sh).

Chromium copies every font file a page uses into each print job; the full Noto Serif CJK
collection is 26 MB a weight, which made a PDF cost 160-240 ms. The documents only need the
characters of GB2312 and the punctuation around them, so each weight is cut down to those
(plus whatever the templates themselves contain), renamed so it can never be mistaken for the
system face, and given TrueType (quadratic) outlines: Chromium's PDF backend embeds CFF-based
fonts as Type 3 glyph procedures, but subsets TrueType ones as real CID fonts, which is faster
to print and smaller on disk. A character outside the subset (a rare name such as 王𠮷) falls
back to the system Noto named after this family in the templates.

    python subset-fonts.py SOURCE_DIR TEMPLATE_DIR OUT_DIR
"""

import pathlib
import sys

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, newTable

FAMILY = "Onedoor Serif GB"
POSTSCRIPT = "OnedoorSerifGB"
SOURCES = {"Regular": "NotoSerifCJK-Regular.ttc", "Bold": "NotoSerifCJK-Bold.ttc"}
SOURCE_FACE = "Noto Serif CJK SC"
# Largest distance, in font units (1000 to the em), between a cubic curve and its quadratic
# replacement: a thousandth of the em, invisible at any print size.
MAX_ERROR = 1.0

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
                pass  # unassigned code point
    return chars


def wanted(template_dir: pathlib.Path) -> set[int]:
    chars = gb2312()
    for start, end in RANGES:
        chars.update(chr(c) for c in range(start, end + 1))
    # Whatever the templates print themselves is always in the subset.
    for template in template_dir.rglob("*.hbs"):
        chars.update(template.read_text(encoding="utf-8"))
    return {ord(c) for c in chars if ord(c) >= 0x20}


def source_face(path: pathlib.Path):
    for font in TTCollection(str(path)).fonts:
        if font["name"].getDebugName(1) == SOURCE_FACE:
            return font
    raise SystemExit(f"{path}: no face named {SOURCE_FACE}")


def to_truetype(font) -> None:
    """Replaces the CFF outlines by quadratic glyf ones (what fontTools' otf2ttf snippet does)."""
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
        del font["VORG"]  # vertical origins of CFF fonts only

    font["head"].glyphDataFormat = 0
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in (
        "maxZones",
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    # Glyph names are cid00001…; nobody needs them in a printed document.
    font["post"].formatType = 3.0
    font.sfntVersion = "\0\1\0\0"


def rename(font, style: str) -> None:
    names = font["name"]
    full = f"{FAMILY} {style}" if style != "Regular" else FAMILY
    for record in list(names.names):
        if record.nameID in (1, 2, 3, 4, 6, 16, 17):
            names.removeNames(nameID=record.nameID)
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName(style, 2, 3, 1, 0x409)
    names.setName(f"{POSTSCRIPT}-{style};subset of {SOURCE_FACE}", 3, 3, 1, 0x409)
    names.setName(full, 4, 3, 1, 0x409)
    names.setName(f"{POSTSCRIPT}-{style}", 6, 3, 1, 0x409)


def build(source: pathlib.Path, style: str, unicodes: set[int], out: pathlib.Path) -> None:
    font = source_face(source)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.recalc_bounds = True
    options.hinting = False  # CFF hints mean nothing to a TrueType rasteriser
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    to_truetype(font)
    rename(font, style)
    font.save(str(out))


def main() -> None:
    source_dir, template_dir, out_dir = (pathlib.Path(a) for a in sys.argv[1:4])
    unicodes = wanted(template_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for style, file in SOURCES.items():
        build(source_dir / file, style, unicodes, out_dir / f"{POSTSCRIPT}-{style}.ttf")


if __name__ == "__main__":
    main()
