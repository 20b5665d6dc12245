"""ejabberd 23.01 as derlink's XMPP server: the generated configuration and how to run it.

derlink starts the Erlang VM directly (what ``ejabberdctl foreground`` does) with its own node
name, cookie, Mnesia spool directory and configuration, so it neither reads /etc/ejabberd nor
clashes with another Erlang node on the machine (RabbitMQ's, say). Distribution listens on
loopback only (``ERL_EPMD_ADDRESS=127.0.0.1``, ``inet_dist_use_interface``).

Client certificates: the c2s listener has ``tls_verify: true`` with ``cafile``; ejabberd then
offers SASL EXTERNAL to a client whose certificate chain OpenSSL verified and takes the JID from
id-on-xmppAddr. Password mechanisms are disabled (``disable_sasl_mechanisms``).

Revocation: ejabberd 23.01's TLS layer (fast_tls) loads the CA file but never turns on OpenSSL's
CRL checking, and ejabberd has no CRL option. derlink therefore adds a small ejabberd module of
its own, ``mod_derlink_crl`` (source below, compiled with ``erlc`` from erlang-base into the run
directory): on every client stream started over TLS it reads the CRLs in the trust file and ends
the stream (``policy-violation``) when the client certificate's serial number is revoked, before
SASL. A missing or unreadable CRL file refuses every client (fail closed).

Room size: mod_muc admits 200 occupants per room unless told otherwise (``max_users``, and the
room's own ``max_users``, which may not exceed the service's). A DER group is one room, so both
are set to :attr:`XmppSettings.max_room_occupants` (10,000 by default). A room with more than
``max_users_presence`` occupants (1,000 by default) counts as overcrowded, and mod_muc_room then
sends a joining occupant nobody else's presence: an IED joining a room of 1,000 would never learn
that the centre is its moderator and would ignore every group command. derlink's rooms broadcast
the moderator's presence only (O(N) per room, not O(N²)), so ``max_users_presence`` is set so
that no room within its size limit is ever overcrowded (the occupant limit plus the owners and
admins mod_muc admits beyond it, ``max_users_admin_threshold``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterable
from pathlib import Path

from derlink.home import write_private
from derlink.iec61850.xmpp.server import (
    TLS12_CIPHERS,
    ServerFiles,
    XmppServerError,
    XmppSettings,
)

KIND = "ejabberd"
BINARY = "/usr/bin/erl"
ERLC = "/usr/bin/erlc"
SERVICE_USER = "ejabberd"
EBIN = "/usr/lib/x86_64-linux-gnu/ejabberd-23.01/ebin"
ERL_LIBS = "/usr/lib/x86_64-linux-gnu"
#: Mechanisms ejabberd could offer besides EXTERNAL; all disabled.
PASSWORD_MECHANISMS = (
    "PLAIN",
    "DIGEST-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-512",
    "SCRAM-SHA-512-PLUS",
    "X-OAUTH2",
    "ANONYMOUS",
)
#: Owners and admins mod_muc admits to a full room (its default, stated so the sum below holds).
MAX_USERS_ADMIN_THRESHOLD = 5


def node_name(files: ServerFiles) -> str:
    """A node name unique to this data directory (so two derlink homes never collide)."""
    tag = hashlib.sha256(str(files.directory).encode()).hexdigest()[:10]
    return f"derlink-xmpp-{tag}@localhost"


CRL_MODULE = "mod_derlink_crl"
CRL_MODULE_SOURCE = r"""
%% Refuses client streams whose TLS certificate is revoked by a CRL in crl_file.
-module(mod_derlink_crl).
-behaviour(gen_mod).
-export([start/2, stop/1, reload/3, depends/2, mod_opt_type/1, mod_options/1, mod_doc/0,
         c2s_stream_started/2]).

start(Host, _Opts) ->
    ejabberd_hooks:add(c2s_stream_started, Host, ?MODULE, c2s_stream_started, 10).

stop(Host) ->
    ejabberd_hooks:delete(c2s_stream_started, Host, ?MODULE, c2s_stream_started, 10).

reload(_Host, _NewOpts, _OldOpts) -> ok.
depends(_Host, _Opts) -> [].
mod_opt_type(crl_file) -> econf:binary().
mod_options(_Host) -> [{crl_file, <<>>}].
mod_doc() -> #{desc => ["Refuses client certificates revoked by the CRLs in crl_file."]}.

c2s_stream_started(#{socket := Socket, lserver := LServer} = State, _StreamStart) ->
    case catch xmpp_socket:get_peer_certificate(Socket, der) of
        {ok, Der} ->
            File = gen_mod:get_module_opt(LServer, ?MODULE, crl_file),
            case revoked(Der, File) of
                false -> State;
                Why ->
                    logger:notice("mod_derlink_crl: client certificate refused: ~ts", [Why]),
                    Err = xmpp:serr_policy_violation(Why, <<"en">>),
                    {stop, xmpp_stream_in:send(State, Err)}
            end;
        _ -> State
    end;
c2s_stream_started(State, _StreamStart) ->
    State.

%% The serial numbers of derlink certificates are unique across its issuing CAs.
revoked(Der, File) ->
    try
        Cert = public_key:pkix_decode_cert(Der, plain),
        Serial = element(3, element(2, Cert)),
        case file:read_file(File) of
            {ok, Pem} ->
                Crls = [public_key:der_decode('CertificateList', CrlDer)
                        || {'CertificateList', CrlDer, _} <- public_key:pem_decode(Pem)],
                Serials = [element(2, Entry) || Crl <- Crls, Entry <- entries(Crl)],
                Now = calendar:datetime_to_gregorian_seconds(calendar:universal_time()),
                Stale = [Crl || Crl <- Crls, next_update(Crl) < Now],
                if
                    Crls == [] -> <<"no CRL available">>;
                    Stale /= [] -> <<"CRL out of date">>;
                    true ->
                        case lists:member(Serial, Serials) of
                            true -> <<"certificate revoked">>;
                            false -> false
                        end
                end;
            {error, _} -> <<"no CRL available">>
        end
    catch _:_ -> <<"certificate or CRL unreadable">>
    end.

%% nextUpdate in Gregorian seconds; a CRL without one counts as out of date.
next_update(CertificateList) ->
    case element(6, element(2, CertificateList)) of
        {_, _} = Time -> pubkey_cert:time_str_2_gregorian_sec(Time);
        _ -> 0
    end.

entries(CertificateList) ->
    case element(7, element(2, CertificateList)) of
        List when is_list(List) -> List;
        _ -> []
    end.
"""


def ebin_dir(files: ServerFiles) -> Path:
    return files.directory / "ebin"


def prepare(files: ServerFiles) -> None:
    """The cookie, and ``mod_derlink_crl`` compiled into the run directory (when changed)."""
    write_cookie(files)
    ebin = ebin_dir(files)
    ebin.mkdir(mode=0o700, exist_ok=True)
    source = ebin / f"{CRL_MODULE}.erl"
    beam = ebin / f"{CRL_MODULE}.beam"
    if beam.is_file() and source.is_file() and source.read_text() == CRL_MODULE_SOURCE:
        return
    source.write_text(CRL_MODULE_SOURCE)
    try:
        done = subprocess.run(
            [ERLC, "-pa", EBIN, "-o", str(ebin), str(source)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise XmppServerError(f"cannot compile {CRL_MODULE} with {ERLC}: {err}") from None
    if done.returncode != 0 or not beam.is_file():
        raise XmppServerError(f"cannot compile {CRL_MODULE}: {done.stdout}{done.stderr}")


def write_cookie(files: ServerFiles) -> None:
    """A random Erlang cookie in ``$HOME/.erlang.cookie`` of the node (never on a command line,
    where every local user could read it); kept across restarts, cluster peers share it."""
    if not files.cookie_file.is_file():
        write_private(files.cookie_file, secrets.token_hex(24).encode())


def _yaml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def _yaml_list(values: Iterable[str], indent: str) -> str:
    items = [f"{indent}- {_yaml(v)}" for v in values]
    return "\n".join(items) if items else f"{indent}[]"


def max_users_presence(settings: XmppSettings) -> int:
    """mod_muc's ``max_users_presence``: above it a room is overcrowded and a joining occupant
    gets no one's presence, not even the moderator's; no room within its limit may reach it."""
    return settings.max_room_occupants + MAX_USERS_ADMIN_THRESHOLD


def render_config(settings: XmppSettings, files: ServerFiles) -> str:
    """The whole ``ejabberd.yml``: c2s over STARTTLS with certificate login, MUC, PubSub, disco,
    stream management; no s2s, no registration, no HTTP; admins from the settings."""
    y = _yaml
    admins = [{"user": a} for a in settings.admins]
    admin_acl = (
        "\n".join(f"      - {y(a['user'])}" for a in admins)
        if admins
        else f"      - {y('derlink-nobody@' + settings.domain)}"
    )
    return f"""\
# Generated by derlink (derlink xmpp serve); regenerated at every start. Do not edit.
hosts:
  - {y(settings.domain)}
loglevel: info
log_rotate_count: 1
log_rotate_size: 10485760
hide_sensitive_log_data: true
certfiles:
  - {y(str(files.leaf_file))}
  - {y(str(files.key_file))}
ca_file: {y(str(files.trust_file))}
define_macro:
  TLS_CIPHERS: {y(TLS12_CIPHERS)}
listen:
  -
    port: {settings.port}
    ip: {y(settings.host)}
    module: ejabberd_c2s
    starttls: true
    starttls_required: true
    tls_verify: true
    cafile: {y(str(files.trust_file))}
    ciphers: TLS_CIPHERS
    protocol_options:
      - "no_sslv2"
      - "no_sslv3"
      - "no_tlsv1"
      - "no_tlsv1_1"
      - "cipher_server_preference"
      - "no_compression"
    max_stanza_size: 262144
    access: c2s
s2s_access: none
auth_method: [internal]
allow_multiple_connections: false
disable_sasl_mechanisms:
{_yaml_list(PASSWORD_MECHANISMS, "  ")}
acl:
  admin:
    user:
{admin_acl}
access_rules:
  c2s:
    allow: all
  local:
    allow: all
  muc_create:
    allow: admin
  pubsub_createnode:
    allow: admin
  configure:
    allow: admin
api_permissions: {{}}
shaper_rules: {{}}
language: en
modules:
  {CRL_MODULE}:
    crl_file: {y(str(files.trust_file))}
  mod_adhoc: {{}}
  mod_caps: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_muc:
    host: {y(settings.muc_service)}
    name: "derlink rooms"
    access: all
    access_create: muc_create
    access_persistent: muc_create
    access_admin: none
    access_mam: none
    history_size: 0
    max_users: {settings.max_room_occupants}
    max_users_admin_threshold: {MAX_USERS_ADMIN_THRESHOLD}
    max_users_presence: {max_users_presence(settings)}
    default_room_options:
      max_users: {settings.max_room_occupants}
      members_only: true
      public: false
      public_list: false
      persistent: false
      mam: false
  mod_pubsub:
    host: {y(settings.pubsub_service)}
    name: "derlink publish-subscribe"
    access_createnode: pubsub_createnode
    ignore_pep_from_offline: true
    last_item_cache: false
    plugins:
      - "flat"
    nodetree: "tree"
    force_node_config: {{}}
"""


def _erl_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(settings: XmppSettings, files: ServerFiles) -> list[str]:
    """The Erlang VM running ejabberd with derlink's configuration (not /etc/ejabberd)."""
    return [
        BINARY,
        "-noinput",
        "-noshell",
        "-sname",
        node_name(files),
        "+K",
        "true",
        "+P",
        "250000",
        "-kernel",
        "inet_dist_use_interface",
        "{127,0,0,1}",
        "-pa",
        EBIN,
        "-pa",
        str(ebin_dir(files)),
        "-mnesia",
        "dir",
        _erl_string(str(files.data_dir)),
        "-ejabberd",
        "config",
        _erl_string(str(files.config_file)),
        "log_path",
        _erl_string(str(files.server_log_dir / "ejabberd.log")),
        "-s",
        "ejabberd",
    ]


def environment(files: ServerFiles) -> dict[str, str]:
    return {
        "HOME": str(files.data_dir),
        "ERL_LIBS": ERL_LIBS,
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "EJABBERD_CONFIG_PATH": str(files.config_file),
        "EJABBERD_LOG_PATH": str(files.server_log_dir / "ejabberd.log"),
        "ERL_CRASH_DUMP_BYTES": "0",
    }


_RPC_MARK = "derlink-rpc-result:"


def rpc(files: ServerFiles, module: str, function: str, args: str = "[]") -> str:
    """Call ``module:function(args)`` on the running node (a hidden node, like ejabberdctl)."""
    target = node_name(files)
    code = (
        f"R = rpc:call('{target}', {module}, {function}, {args}, 20000), "
        f'io:format("~n{_RPC_MARK}~p~n", [R]), halt(0).'
    )
    helper = f"derlink-ctl-{secrets.token_hex(4)}@localhost"
    env = {**os.environ, "ERL_EPMD_ADDRESS": "127.0.0.1", "HOME": str(files.data_dir)}
    try:
        done = subprocess.run(
            [
                BINARY,
                "-noinput",
                "-noshell",
                "-hidden",
                "-sname",
                helper,
                "-kernel",
                "inet_dist_use_interface",
                "{127,0,0,1}",
                "-eval",
                code,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise XmppServerError(f"cannot reach the ejabberd node: {err}") from None
    marked = [line for line in done.stdout.splitlines() if line.startswith(_RPC_MARK)]
    answer = marked[-1][len(_RPC_MARK) :] if marked else ""
    if done.returncode != 0 or answer.startswith("{badrpc"):
        raise XmppServerError(f"ejabberd {module}:{function} failed: {answer or done.stderr}")
    return answer


def reload(settings: XmppSettings, files: ServerFiles, pid: int) -> None:
    """Re-read the configuration. (New CRLs need no reload: ``mod_derlink_crl`` reads the trust
    file at every client stream; the configuration is re-read in case it changed.)"""
    answer = rpc(files, "ejabberd_admin", "reload_config")
    if answer != "ok":
        raise XmppServerError(f"ejabberd could not reload its configuration: {answer}")
