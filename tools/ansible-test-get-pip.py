"""Stand-in for the get-pip.py that ansible-test downloads from its own file server.

ansible-test bootstraps pip into each sanity virtual environment with a script fetched from a
host outside the package registries this project may use. This script does the same job from
the registry: ensurepip, then `pip install` with exactly the arguments ansible-test passes
(which pin the pip version it wants). `make` puts it where ansible-test looks for its cache.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# get-pip.py's own flags; plain pip install does not know them
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
# ansible-test runs this with an emptied environment; hand pip the system CA bundle so a
# registry behind a TLS-inspecting proxy (whose CA the system trusts) still verifies.
for bundle in ('/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'):
    if os.path.exists(bundle):
        args = ['--cert', bundle, *args]
        break
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', *args]))
