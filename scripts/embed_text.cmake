# Turns a text file into a C++ raw string literal include: INPUT -> OUTPUT.
file(READ ${INPUT} content)
file(WRITE ${OUTPUT} "R\"volnode_embed(${content})volnode_embed\"\n")
