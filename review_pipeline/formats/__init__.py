"""File formats, one module each; :mod:`.registry` lists them and picks one for a file,
:mod:`.base` holds what readers share (decoding, blocks, counts), :mod:`.sheets` the CSV and
XLSX sheets people edit."""
