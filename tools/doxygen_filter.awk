# doxygen_filter.awk -- Doxygen's filter for include/frozen.h (Doxyfile, FILTER_PATTERNS). frozen.h documents
# its API in plain C comments, written to be read in the header itself; this turns them into Doxygen markup on
# the way in, so the header stays as it is:
#   - a comment starting a line before a declaration            /* ... */    ->  /** ... */
#   - a comment after a member or enumerator on its line         x; /* ... */ ->  x; /**< ... */
#   - a section title (the one-line comment after a /* ---- */ line, or /* ---- title ---- */, or the first
#     line of a /* ==== */ box) opens a named member group, closed by the next title or the end of the API
#   - separator lines and the example lines of a /* ==== */ box stay plain comments
# Comments already written /** stay as they are.
function trim(t) { gsub(/^[ \t]+|[ \t]+$/, "", t); return t }
# /** @name TITLE ... @{ */ for the title text t; do_split: a first sentence ending in ". " is the title, the
# rest the description.
function open_group(t, rest, do_split,    dot) {
    if (group_open) print "/** @} */"
    t = trim(t)
    sub(/^Issue [0-9]+: */, "", t)
    dot = do_split ? index(t, ". ") : 0
    if (dot > 0) { rest = trim(substr(t, dot + 2)) " " rest; t = substr(t, 1, dot - 1) }
    sub(/[.:]$/, "", t)
    printf "/** @name %s\n", t
    if (trim(rest) != "") printf " * %s\n", trim(rest)
    print " * @{ */"
    group_open = 1
}
{
    line = $0
    gsub(/e\.g\. /, "e.g.\\ ", line) # not the end of a brief description
    if (in_comment) {
        if (group_text) {
            # the rest of a multi-line section comment becomes the group's description
            t = line; sub(/^ *\*\/? ?/, "", t)
            done = index(line, "*/") > 0
            sub(/\*\/.*/, "", t)
            group_desc = group_desc (group_desc == "" ? "" : "\n * ") t
            if (done) { open_group(group_title, group_desc); group_text = 0; in_comment = 0 }
            next
        }
        if (index(line, "*/")) in_comment = 0
        print line
        next
    }
    if (line ~ /^#ifdef __cplusplus/ && seen_api && group_open) { print "/** @} */"; group_open = 0 }
    if (line ~ /^\/\*/) {
        one_line = index(substr(line, 3), "*/") > 0
        body = line; sub(/^\/\* */, "", body); sub(/ *\*\/ *$/, "", body)
        if (line ~ /^\/\*\*/ || line ~ /^\/\*!/) {
            if (!one_line) in_comment = 1
            print line
        } else if (line ~ /^\/\* *===/) {
            in_box = 1; box_first = 1; after_sep = 0
            print line
        } else if (line ~ /^\/\* *---/) {
            in_box = 0; after_sep = one_line
            title = body; gsub(/^-+ *| *-+$/, "", title)
            if (title != "" && one_line) { print line; open_group(title, ""); after_sep = 0 }
            else if (title != "") { group_title = title; group_desc = ""; group_text = 1; in_comment = 1 }
            else print line
        } else if (in_box) {
            if (box_first && trim(body) != "") { print line; open_group(body, ""); box_first = 0 }
            else print line
        } else if (after_sep && one_line) {
            print line; open_group(body, "", 1); after_sep = 0
        } else {
            sub(/^\/\*/, "/**", line)
            after_sep = 0
            if (!one_line) in_comment = 1
            print line
        }
        next
    }
    after_sep = 0
    if (line ~ /^FRZ_API/) seen_api = 1
    # code, then a comment on the same line: it documents that member or enumerator
    pos = index(line, "/*")
    if (pos > 1 && substr(line, 1, pos - 1) ~ /[;,{A-Za-z0-9_)]/ && substr(line, pos, 3) != "/**") {
        line = substr(line, 1, pos - 1) "/**<" substr(line, pos + 2)
        if (!index(substr(line, pos + 4), "*/")) in_comment = 1
    }
    print line
}
