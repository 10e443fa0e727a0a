"""``python -m simrec.config``: print the parameter tables of docs/model.md section 8."""

from simrec.config.tables import markdown_tables

if __name__ == "__main__":  # pragma: no cover - documentation generator
    print(markdown_tables())
