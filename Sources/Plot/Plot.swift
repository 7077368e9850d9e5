// The Plot module renders learning curves as self-contained SVG.
