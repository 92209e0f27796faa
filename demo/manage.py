#!/usr/bin/env python
"""Django's command-line utility for the django-flowmachine demo shop.

Run from anywhere: ``python demo/manage.py runserver``. ``make demo`` does the
migrate, seed and runserver steps for you.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
