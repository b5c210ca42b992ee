"""``python -m lightning_metarec``: the LightningCLI entry point."""

from lightning_metarec.main import main

if __name__ == "__main__":
    main()
