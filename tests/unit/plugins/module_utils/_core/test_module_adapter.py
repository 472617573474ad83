"""run_backend, the one adapter: a backend's result or MailwrightError becomes exit_json/fail_json,
warnings (from the result or carried by the error) go through module.warn, secrets seen on the
wire are registered before anything is printed, and the error family keeps its second bases."""

from __future__ import annotations

import pytest

from ansible_collections.mailwright.smtp.plugins.module_utils._core.errors import MailwrightError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.files import FileSafetyError
from ansible_collections.mailwright.smtp.plugins.module_utils._core.module import ArgumentSpec, run_backend
from ansible_collections.mailwright.smtp.plugins.module_utils._render.api import api_argument_spec, api_error
from ansible_collections.mailwright.smtp.plugins.module_utils._render.properties import PropertiesError
from ansible_collections.mailwright.smtp.plugins.module_utils._render.tomcat import TomcatError
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.jvm_options import JvmOptionsError
from ansible_collections.mailwright.smtp.plugins.module_utils._trust.keytool import KeytoolError
from ansible_collections.mailwright.smtp.plugins.module_utils._net.http import CAUSES, HttpError


class Ended(Exception):
    pass


class Module:
    def __init__(self):
        self.warnings: list[str] = []
        self.no_log_values: set[str] = set()
        self.ended: tuple[str, dict] | None = None

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        self.ended = ('exit', dict(result, secrets=set(self.no_log_values)))
        raise Ended

    def fail_json(self, **result):
        self.ended = ('fail', dict(result, secrets=set(self.no_log_values)))
        raise Ended


def test_result_and_warnings():
    module = Module()
    with pytest.raises(Ended):
        run_backend(module, lambda x: {'changed': x, 'warnings': ['careful'], 'manual_steps': []}, True)
    assert module.ended == ('exit', {'changed': True, 'manual_steps': [], 'secrets': set()})
    assert module.warnings == ['careful']


def test_error_with_kind_details_warnings_and_late_secrets():
    module = Module()
    wire: set[str] = set()

    def backend():
        wire.add('Basic YWRtaW46cw==')
        exc = MailwrightError('the relay said no', kind='server', http={'status': 500})
        exc.warnings = ['before the failure']
        raise exc

    with pytest.raises(Ended):
        run_backend(module, backend, register_after=wire)
    assert module.ended == ('fail', {'msg': 'the relay said no', 'kind': 'server', 'http': {'status': 500},
                                     'secrets': {'Basic YWRtaW46cw=='}})
    assert module.warnings == ['before the failure']


def test_unknown_kind_is_a_bug():
    with pytest.raises(ValueError, match='unknown error kind'):
        raise MailwrightError('x', kind='weird')


@pytest.mark.parametrize('exc, kind, second', [
    (TomcatError('x'), 'invalid', ValueError),
    (PropertiesError('x', line=3), 'invalid', ValueError),
    (JvmOptionsError('x'), 'invalid', ValueError),
    (FileSafetyError('x', path='/p', code=13), 'file', OSError),
    (KeytoolError('x', cause='password'), 'invalid', Exception),
    (KeytoolError('x', cause='timeout'), 'tool', Exception),
])
def test_the_family(exc, kind, second):
    assert isinstance(exc, MailwrightError) and isinstance(exc, second) and exc.kind == kind


def test_file_safety_error_is_still_an_oserror_with_strerror():
    exc = FileSafetyError('path /x: refused', path='/x', code=13)
    assert (exc.errno, exc.strerror, str(exc)) == (13, 'path /x: refused', 'path /x: refused')
    assert exc.to_result() == {'msg': 'path /x: refused', 'kind': 'file'}


def test_http_errors_map_to_kinds_and_keep_the_request():
    error = api_error(HttpError('GET /x: no answer', cause='timeout', method='GET', url='https://h/x'))
    assert isinstance(error, MailwrightError) and (error.kind, error.cause) == ('network', 'timeout')
    assert error.to_result() == {'msg': 'GET /x: no answer', 'kind': 'network',
                                 'http': {'status': None, 'method': 'GET', 'url': 'https://h/x', 'kind': 'network',
                                          'cause': 'timeout'}}
    assert api_error(HttpError('x', status=401, cause='http')).kind == 'server'
    assert {cause: HttpError('x', cause=cause).kind for cause in CAUSES} == {
        'http': 'server', 'timeout': 'network', 'refused': 'network', 'dns': 'network', 'network': 'network',
        'tls': 'tls', 'protocol': 'invalid'}
    # refused before any request: no `http` key
    refused = HttpError('timeout must be positive', cause='protocol')
    assert refused.to_result() == {'msg': 'timeout must be positive', 'kind': 'invalid'}


def test_shared_specs_are_fresh_and_carry_their_constraints():
    one, two = api_argument_spec(token=False), api_argument_spec(token=True, url_required=True)
    assert 'token' not in one.argument_spec and 'token' in two.argument_spec
    assert two.argument_spec['url']['required'] is True and 'required' not in api_argument_spec().argument_spec['url']
    assert ('token', 'url_username') in two.mutually_exclusive and not one.mutually_exclusive
    merged = ArgumentSpec({'state': {'type': 'str'}}, required_if=[('state', 'present', ['url'])]).merge(two)
    kwargs = merged.module_kwargs()
    assert kwargs['required_if'] == [('state', 'present', ['url'])] and kwargs['required_one_of']
    kwargs['argument_spec']['url']['required'] = False  # the caller's copy: the spec is untouched
    assert merged.argument_spec['url']['required'] is True
    with pytest.raises(ValueError, match='defined twice'):
        merged.merge(url={'type': 'str'})
