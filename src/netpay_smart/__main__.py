"""``python -m netpay_smart`` is the ``netpay-smart`` command."""

from .cli import main

main()
