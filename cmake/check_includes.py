#!/usr/bin/env python3
"""Fails when a source file includes a header of a layer its own layer may not use.

The layers come from cmake/layers.txt (the table cmake/layers.cmake checks the CMake targets
against). Every file under the table's roots must be in a layer, and every `#include "..."` must
name a file of the tree. Prints every violation as path:line and exits 1 if there is any.

    cmake/check_includes.py [--root DIR] [--table FILE]
"""
import argparse
import os
import re
import sys

SOURCE_SUFFIXES = (".h", ".hh", ".hpp", ".inc", ".c", ".cc", ".cpp")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


class Layer:
    def __init__(self, name, uses, sources):
        self.name = name
        self.layers = {u for u in uses if "/" not in u}  # layers it may use
        self.headers = {u for u in uses if "/" in u}  # single headers it may use besides
        self.sources = sources


def read_table(path):
    """Returns (roots, layers) from the table; exits with a message on a malformed line."""
    roots, layers = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("roots:"):
                roots = line[len("roots:"):].split()
                continue
            columns = [c.split() for c in line.split("|")]
            if len(columns) != 4 or len(columns[0]) != 1 or not columns[2]:
                sys.exit(f"{path}:{number}: expected 'name | uses | sources | targets'")
            layers.append(Layer(columns[0][0], columns[1], columns[2]))
    names = {layer.name for layer in layers}
    for layer in layers:
        for unknown in sorted(layer.layers - names):
            sys.exit(f"{path}: layer {layer.name} uses unknown layer {unknown}")
    return roots, layers


def layer_of(path, layers):
    """The layer whose most specific source folder or file holds `path` (relative), or None."""
    best, best_length = None, -1
    for layer in layers:
        for source in layer.sources:
            if (path == source or path.startswith(source + "/")) and len(source) > best_length:
                best, best_length = layer, len(source)
    return best


def source_files(root, roots):
    for top in roots:
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIXES):
                    yield os.path.relpath(os.path.join(folder, name), root)


def check(root, roots, layers):
    problems = []
    for path in source_files(root, roots):
        layer = layer_of(path, layers)
        if layer is None:
            problems.append(f"{path}: in no layer (place it in cmake/layers.txt)")
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                header = match.group(1)
                # Project headers are named from the root; a bare name may sit next to the file.
                target = os.path.normpath(header)
                if not os.path.isfile(os.path.join(root, target)):
                    target = os.path.normpath(os.path.join(os.path.dirname(path), header))
                    if not os.path.isfile(os.path.join(root, target)):
                        problems.append(f'{path}:{number}: "{header}" is no file of the tree')
                        continue
                used = layer_of(target, layers)
                if used is layer or target in layer.headers:
                    continue
                if used is None:
                    problems.append(f'{path}:{number}: "{header}" is in no layer')
                elif used.name not in layer.layers:
                    allowed = " ".join(sorted(layer.layers)) or "nothing below it"
                    problems.append(f'{path}:{number}: layer {layer.name} includes "{header}" '
                                    f"of layer {used.name}; {layer.name} may use {allowed}")
    return problems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.dirname(here), help="the source tree")
    parser.add_argument("--table", help="the layer table (default ROOT/cmake/layers.txt)")
    args = parser.parse_args()
    table = args.table or os.path.join(args.root, "cmake", "layers.txt")
    roots, layers = read_table(table)
    problems = check(args.root, roots, layers)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_includes: {len(problems)} layering violation(s); the layers are in {table}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
