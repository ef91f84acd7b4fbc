"""gepad's built-in adapter plugins, installed under the import name ``gepad_adapters`` (a PyPI
package already has ``adapters``) and registered through the entry-point group
``gepad.adapters`` like any third-party plugin. Nothing is imported here: loading one plugin must
not import the others."""
