"""The `env` and `system` detectors: resource attributes read from this process's environment and this host, as
contrib's internal/env/env.go and internal/system/system.go (with internal/metadataproviders/system) read them."""

from __future__ import annotations

import fcntl
import os
import platform
import re
import socket
import struct
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from .config import SYSTEM_ATTRIBUTES, EnvConfig, SystemConfig, enabled

Attributes = dict[str, Any]  # str, int or list[str] values
SCHEMA_1_6_1 = "https://opentelemetry.io/schemas/1.6.1"

# env.go labelRegex: key=value pairs with optional spaces, comma-separated.
_LABEL = re.compile(r"\s*([\x00-\x7f]{1,256}?)\s*=\s*([\x00-\x7f]{0,256}?)\s*(?:,|\Z)")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class DetectionError(Exception):
    pass


def parse_resource_attributes(text: str) -> dict[str, str]:
    """env.go initializeAttributeMap: `k1=v1,k2=v2`, values URL-decoded; any other text is an error."""
    out: dict[str, str] = {}
    pos = 0
    matches = list(_LABEL.finditer(text))
    if not matches:
        raise DetectionError("invalid resource format in OTEL_RESOURCE_ATTRIBUTES")
    for m in matches:
        if m.start() != pos:
            raise DetectionError("invalid resource format in OTEL_RESOURCE_ATTRIBUTES, invalid text between pairs")
        if _BAD_ESCAPE.search(m.group(2)):
            raise DetectionError(f"invalid resource format in OTEL_RESOURCE_ATTRIBUTES: attribute {m.group(1)!r} has an invalid URL escape")
        out[m.group(1)] = unquote_plus(m.group(2))  # Go's url.QueryUnescape
        pos = m.end()
    if pos != len(text):
        raise DetectionError("invalid resource format in OTEL_RESOURCE_ATTRIBUTES, invalid text after the last pair")
    return out


def detect_env(config: EnvConfig) -> tuple[Attributes, str]:
    text = os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").strip() or os.environ.get("OTEL_RESOURCE", "").strip()
    if not text:
        return {}, ""
    attrs: Attributes = dict(parse_resource_attributes(text))
    if config.allow_list is not None:
        allowed = set(config.allow_list)
        attrs = {k: v for k, v in attrs.items() if k in allowed}
    return attrs, ""


# metadataproviders/internal GOOSToOSType and GOARCHtoHostArch, from Python's names.
_OS_TYPES = {"linux": "linux", "darwin": "darwin", "win32": "windows", "freebsd": "freebsd", "openbsd": "openbsd",
             "netbsd": "netbsd", "dragonfly": "dragonflybsd", "sunos": "solaris", "aix": "aix", "zos": "z_os"}
_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "x86", "i686": "x86",
           "x86": "x86", "armv7l": "arm32", "armv6l": "arm32", "arm": "arm32", "ppc64le": "ppc64", "ppc64": "ppc64",
           "ppc": "ppc32", "s390x": "s390x", "ia64": "ia64"}


def os_type() -> str:
    name = sys.platform
    for prefix, value in _OS_TYPES.items():
        if name.startswith(prefix):
            return value
    return name


def host_arch() -> str:
    machine = platform.machine().lower()
    return _ARCHES.get(machine, machine)


def host_id() -> str:
    """OTel Go's WithHostID on Linux: /etc/machine-id, then /var/lib/dbus/machine-id."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value:
            return value
    raise DetectionError("failed to obtain host id: no /etc/machine-id or /var/lib/dbus/machine-id")


def os_release() -> str:
    """OTel Go's osRelease: PRETTY_NAME of /etc/os-release (or /usr/lib/os-release), else NAME VERSION."""
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        values = dict(re.findall(r'^([A-Z_]+)=["\']?(.*?)["\']?$', text, re.MULTILINE))
        if values.get("PRETTY_NAME"):
            return values["PRETTY_NAME"]
        return " ".join(v for v in (values.get("NAME", ""), values.get("VERSION", "")) if v)
    return ""


def os_description() -> str:
    """OTel Go's osDescription on Unix: `<os-release> (<sysname> <nodename> <release> <version> <machine>)`."""
    u = os.uname()
    uname = f"{u.sysname} {u.nodename} {u.release} {u.version} {u.machine}"
    release = os_release()
    return f"{release} ({uname})" if release else uname


def cpu_info() -> dict[str, Any]:
    """gopsutil's cpu.Info for the first CPU, from /proc/cpuinfo: vendor, family, model, model name, stepping,
    cache size (KB)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError as exc:
        raise DetectionError(f"cannot read /proc/cpuinfo: {exc.strerror}") from None
    first = text.split("\n\n", 1)[0]
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines()) if k.strip()}
    cache = re.match(r"(\d+)", fields.get("cache size", ""))
    return {"host.cpu.vendor.id": fields.get("vendor_id", ""), "host.cpu.family": fields.get("cpu family", ""),
            "host.cpu.model.id": fields.get("model", ""), "host.cpu.model.name": fields.get("model name", ""),
            "host.cpu.stepping": fields.get("stepping", ""), "host.cpu.cache.l2.size": int(cache.group(1)) if cache else 0}


_IFF_UP, _IFF_LOOPBACK = 0x1, 0x8
_SIOCGIFFLAGS, _SIOCGIFADDR = 0x8913, 0x8915


def interfaces() -> list[tuple[str, int]]:
    """(name, flags) of the network interfaces."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, struct.pack("16sH", name.encode()[:15], 0)))[1]
            except OSError:
                continue
            out.append((name, flags))
    return out


def host_ips() -> list[str]:
    """metadataproviders/system HostIPs: the addresses of the interfaces that are up and not loopback, loopback
    addresses left out (IPv4 through SIOCGIFADDR, IPv6 from /proc/net/if_inet6)."""
    ips: list[str] = []
    up = [name for name, flags in interfaces() if flags & _IFF_UP and not flags & _IFF_LOOPBACK]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in up:
            try:
                packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            ips.append(socket.inet_ntoa(packed[20:24]))
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 6 and parts[5] in up:
                ip = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(parts[0]))
                if ip != "::1":
                    ips.append(ip)
    except OSError:
        pass
    return ips


def host_macs() -> list[str]:
    """The hardware addresses of the interfaces that are up and not loopback (metadataproviders/system HostMACs),
    in IEEE RA hexadecimal form (`AA-BB-CC-DD-EE-FF`) as the semantic conventions write host.mac."""
    out = []
    for name, flags in interfaces():
        if flags & _IFF_UP and not flags & _IFF_LOOPBACK:
            try:
                mac = Path(f"/sys/class/net/{name}/address").read_text().strip()
            except OSError:
                continue
            if mac and mac != "00:00:00:00:00:00":
                out.append(mac.upper().replace(":", "-"))
    return out


def _hostname_os() -> str:
    return socket.gethostname()


def _hostname_dns() -> str:
    """go-fqdn FqdnHostname: the canonical name the resolver gives the hostname."""
    hostname = socket.gethostname()
    try:
        infos = socket.getaddrinfo(hostname, None, flags=socket.AI_CANONNAME)
    except socket.gaierror as exc:
        raise DetectionError(f"getFQDN failed getting FQDN: {exc}") from None
    name = next((i[3] for i in infos if i[3]), "")
    if not name:
        raise DetectionError("getFQDN failed getting FQDN: no canonical name")
    return name.rstrip(".")


def _hostname_cname() -> str:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, flags=socket.AI_CANONNAME)
    except socket.gaierror as exc:
        raise DetectionError(f"lookupCNAME failed to get CNAME: {exc}") from None
    name = next((i[3] for i in infos if i[3]), "")
    if not name:
        raise DetectionError("lookupCNAME failed to get CNAME")
    return name.rstrip(".")


def _hostname_lookup() -> str:
    try:
        addresses = {str(i[4][0]) for i in socket.getaddrinfo(socket.gethostname(), None)}
    except socket.gaierror as exc:
        raise DetectionError(f"reverseLookupHost failed to lookup host: {exc}") from None
    for ip in sorted(addresses):
        try:
            return socket.gethostbyaddr(ip)[0].rstrip(".")
        except OSError:
            continue
    raise DetectionError("reverseLookup failed to convert IP addresses to name")


HOSTNAME_SOURCES = {"os": _hostname_os, "dns": _hostname_dns, "cname": _hostname_cname, "lookup": _hostname_lookup}


def detect_system(config: SystemConfig, log: Any) -> tuple[Attributes, str]:
    """system.go Detect: the first hostname source that works, with the enabled attributes."""
    wanted = enabled(config.resource_attributes, SYSTEM_ATTRIBUTES)
    hostname = ""
    for source in config.hostname_sources or ["dns", "os"]:
        try:
            hostname = HOSTNAME_SOURCES[source]()
            break
        except (DetectionError, OSError) as exc:
            log.debug("hostname source failed", source=source, error=str(exc))
    if not hostname:
        raise DetectionError("all hostname sources failed to get hostname")
    attrs: Attributes = {"host.name": hostname, "os.type": os_type()}
    if "host.id" in wanted:
        try:
            attrs["host.id"] = host_id()
        except DetectionError as exc:
            log.warning("failed to get host ID", error=str(exc))
    if "host.arch" in wanted:
        attrs["host.arch"] = host_arch()
    if "os.description" in wanted:
        attrs["os.description"] = os_description()
    if wanted & {"host.ip", "host.mac", "host.interface"}:
        attrs["host.ip"] = host_ips()
        attrs["host.mac"] = host_macs()
        attrs["host.interface"] = [name for name, flags in interfaces() if flags & _IFF_UP and not flags & _IFF_LOOPBACK]
    if any(k.startswith("host.cpu.") for k in wanted):
        attrs.update(cpu_info())
    return {k: v for k, v in attrs.items() if k in wanted}, SCHEMA_1_6_1
